package bench

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// A runner runs tasks under a concurrency cap the way users of one library
// would write it.
type runner interface {
	// name is the runner's name in the benchmark output (Workload/name).
	name() string
	// run calls task n times, at most limit calls at a time, submitted from
	// subs goroutines that share n between them, and returns once every
	// call has returned and the pool has been released.
	run(n, limit, subs int, task func())
	// backlog opens a pool of cap 1 whose one slot a task blocked on gate
	// holds, ready to take about n more calls of task (W6). It returns once
	// the blocked task holds the slot, or nil for a runner without a cap.
	backlog(n int, gate <-chan struct{}, task func()) backlog
}

// A linker is a backlog whose submits leave work for later: lazysched's
// submits behind a full cap go to a lock-free inbox that the next lock
// holder links into the queue. W6 times link with the submits, so that
// ns/submit counts all the work of queueing.
type linker interface{ link() }

// A backlog is a pool whose cap is full: what it costs to hold tasks that
// cannot run yet.
type backlog interface {
	// add submits one more call of the backlog's task without blocking the
	// caller: for a peer whose submit blocks, on a goroutine of its own,
	// which is what that peer's users must do.
	add()
	// drain waits, once the caller has closed the gate, for every call to
	// return, and releases the pool.
	drain()
}

// runners returns every runner, lazysched last.
func runners() []runner {
	return []runner{
		rawRunner{}, semaphoreRunner{}, errgroupRunner{}, pondGoRunner{},
		pondSubmitRunner{}, antsRunner{}, concRunner{}, fixedRunner{},
		floorRunner{}, lazyRunner{},
		lazyDropRunner{},
	}
}

// runnerNamed returns the runner called name, or nil.
func runnerNamed(name string) runner {
	for _, r := range runners() {
		if r.name() == name {
			return r
		}
	}
	return nil
}

// split shares n between subs submitters: it calls body(k) on subs
// goroutines, the k summing to n, and waits for them to return. With subs
// at most 1 it calls body(n) on the caller's goroutine.
func split(n, subs int, body func(k int)) {
	if subs <= 1 {
		body(n)
		return
	}
	var wg sync.WaitGroup
	for i := range subs {
		k := n / subs
		if i < n%subs {
			k++
		}
		wg.Go(func() { body(k) })
	}
	wg.Wait()
}

// must panics on an error that the benchmarks cannot go on from.
func must(err error) {
	if err != nil {
		panic(fmt.Sprintf("bench: %v", err))
	}
}

// holdSlot submits, through submit, a task that holds the pool's one slot
// until gate is closed, and returns once that task runs.
func holdSlot(gate <-chan struct{}, submit func(func())) {
	started := make(chan struct{})
	submit(func() {
		close(started)
		<-gate
	})
	<-started
}

// spawned is the backlog of a peer whose submit blocks while the cap is
// full: each pending call waits in submit on a goroutine of its own.
type spawned struct {
	wg      sync.WaitGroup
	added   int64
	entered atomic.Int64
	one     func() // runs on the pending goroutine: submits, then counts it
	release func() // waits for the pool's tasks and releases it
}

func newSpawned(submit func(), release func()) *spawned {
	s := &spawned{release: release}
	s.one = func() {
		s.entered.Add(1)
		submit()
		s.wg.Done()
	}
	return s
}

func (s *spawned) add() {
	s.added++
	s.wg.Add(1)
	go s.one()
}

// settle returns once every pending goroutine has started and entered
// submit, so that what they hold while they wait (waiter records, channel
// queues) is counted too. Only the goroutine that calls add may call it.
func (s *spawned) settle() {
	for s.entered.Load() < s.added {
		runtime.Gosched()
	}
	for range 100 {
		runtime.Gosched()
	}
}

func (s *spawned) drain() {
	s.wg.Wait()
	s.release()
}
