package scheduler

// The goroutines that run tasks: each runs a task and what follows it,
// then lingers a moment for more, then parks until a task is handed to it
// or the reaper dismisses it.

import (
	"context"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/internal/goid"
)

// goTracked runs f on a new goroutine that Shutdown waits for.
func (s *Scheduler) goTracked(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.uncount(s.count())
		f()
	}()
}

// spawn runs c and what follows it on a new goroutine, or on the executor.
// Its callers count it in s.spawned under s.mu.
func (s *Scheduler) spawn(c *core.Task) {
	switch {
	case s.cfg.yexec != nil:
		s.cfg.yexec(func(yield func() bool) { s.work(c, yield) })
	case s.cfg.exec != nil:
		s.cfg.exec(func() { s.work(c, nil) })
	default:
		go s.work(c, nil)
	}
}

// handBack hands c, which the calling goroutine of an executor was to run
// next, back to the executor, whose yield asked for the goroutine back
// (WithYieldingExecutor). The caller holds a count in s.wg that it lets go
// of as it returns; c's new goroutine gets one of its own.
func (s *Scheduler) handBack(c *core.Task) {
	s.lock()
	s.spawnLocked()
	s.wg.Add(1)
	s.unlock()
	s.spawn(c)
}

// yields asks yield whether to hand c, admitted and next for the calling
// goroutine, back to the executor, and hands it back if so. A yield that
// panics hands c back too before the panic goes on: c holds its slot and
// counts as Running, and an executor that recovers the panic (pond does)
// would otherwise leave it Running for ever, its waiters and Shutdown
// with it.
func (s *Scheduler) yields(yield func() bool, c *core.Task) (handed bool) {
	handed = true // stays true if yield panics
	defer func() {
		if handed {
			s.handBack(c)
		}
	}()
	handed = yield()
	return handed
}

// work runs c, then whatever the scheduler hands this goroutine next. When
// nothing is left, one goroutine at a time lingers for a moment (linger):
// a submitter slower than the tasks then hands its next task to that
// goroutine through the queue. Then it parks (parkLocked): the next task
// admitted where no goroutine can run it, as when a task's done hooks or
// callbacks still run after it (I11), goes to a parked goroutine, whose
// stack has already grown, instead of a new one.
//
// yield, for an executor's goroutine (WithYieldingExecutor), says when to
// hand the next task back to the executor instead (nil: never).
func (s *Scheduler) work(c *core.Task, yield func() bool) {
	defer s.wg.Done()
	if !s.cfg.executor() {
		// A new goroutine inherits the pprof labels of the one that
		// spawned it (a submitter's: a request handler's pprof.Do, or a
		// task's under WithPprofLabels); this one goes on to run other
		// tasks, which must not be profiled under them. An executor's
		// goroutine is the executor's to label.
		pprof.SetGoroutineLabels(context.Background())
		if c = s.begin(c); c == nil {
			return
		}
	}
	id := s.count()
	r := core.NewWorker(id)
	defer func() {
		r.Exit()
		s.uncount(id)
	}()
	s.loop(r, c, yield)
}

// count counts the calling goroutine among s's own (see Scheduler.own)
// and returns its id, for uncount. It reads the id, about a microsecond
// and a half here: once per goroutine started (10 for W1's million tasks
// at cap 8, one per hundred tasks at cap 1,000), not per task.
func (s *Scheduler) count() uint64 {
	id := goid.ID()
	s.own.mu.Lock()
	s.own.by.add(id, 1)
	s.own.mu.Unlock()
	return id
}

// uncount undoes count for goroutine id, as it exits.
func (s *Scheduler) uncount(id uint64) {
	s.own.mu.Lock()
	s.own.by.add(id, -1)
	s.own.mu.Unlock()
}

// ownGoroutine reports, as a count (1 or 0), whether the calling goroutine
// is one of s's own (work or goTracked).
func (s *Scheduler) ownGoroutine(id uint64) int {
	s.own.mu.Lock()
	defer s.own.mu.Unlock()
	return min(s.own.by[id], 1)
}

// loop is work's body: run c and what follows, then linger, then park
// (yield, if not nil, may hand what follows back to the executor first);
// r, the goroutine's record, names the task it runs (core.Current), and
// none while it lingers or parks, so that a parked goroutine keeps no
// ended task, and its result, alive.
func (s *Scheduler) loop(r *core.Worker, c *core.Task, yield func() bool) {
	var ch chan *core.Task
	for c != nil {
		for c != nil {
			r.Runs(c)
			c = core.Execute(c)
			if c != nil && yield != nil && s.yields(yield, c) {
				r.Runs(nil)
				return
			}
		}
		r.Runs(nil)
		var parked bool
		if c, parked = s.linger(&ch); parked {
			c = <-ch // whoever sends counts this goroutine in s.wg again
		}
		if c != nil && yield != nil && s.yields(yield, c) {
			return
		}
	}
}

// startLocked runs c, admitted, on a parked goroutine (parkLocked), or on
// a new one. Under s.mu, with s.wg counted for it.
func (s *Scheduler) startLocked(c *core.Task) {
	if w := s.wake; w != nil {
		// The task whose end freed the slot is done before anything
		// starts on another goroutine: c may look at it.
		s.wake = nil
		close(w)
	}
	if n := len(s.idle); n > 0 {
		ch := s.idle[n-1]
		s.idle[n-1] = nil
		s.idle = s.idle[:n-1]
		s.idleLow = min(s.idleLow, n-1)
		ch <- c
		return
	}
	s.spawnLocked()
	s.spawn(c)
}

// parkLocked parks the calling goroutine on *ch (made the first time), to
// wait there for a task to run (startLocked); it says false if
// s.maxIdle goroutines are parked already, once Shutdown has dismissed the
// parked goroutines, and once the root scope is closed with nothing left
// queued (while Shutdown drains the queue, a goroutine whose task's done
// callbacks ran after it still parks for the next one, instead of one
// goroutine started per task). A parked
// goroutine is not one of s.wg's (Shutdown, and a Shutdown called from a
// task, do not wait for it); it gets nil when it is dismissed: by the
// reaper, once it was not needed for a whole period, or by Shutdown. Under
// s.mu.
func (s *Scheduler) parkLocked(ch *chan *core.Task) bool {
	if len(s.idle) >= s.maxIdle || s.dismissed || (s.root.closed && s.queued == 0) {
		return false
	}
	if *ch == nil {
		*ch = make(chan *core.Task, 1)
	}
	s.idle = append(s.idle, *ch)
	s.wg.Done()
	if !s.reaping {
		if s.reaper == nil {
			s.reaper = time.AfterFunc(reapPeriod, s.reap)
		} else {
			s.reaper.Reset(reapPeriod)
		}
		s.reaping = true
		s.idleLow = len(s.idle)
	}
	return true
}

// reapPeriod is how often the reaper looks at the parked goroutines. A
// goroutine parked for a whole period without being needed exits, so that
// an idle scheduler holds none for long; within a period, a task started
// by a parked goroutine saves the start of a new one and, for tasks whose
// hooks or functions grow their stacks, the stack's growth.
const reapPeriod = 10 * time.Millisecond

// reap dismisses the goroutines that stayed parked for the whole period
// that ends: as many as the fewest parked in it, the oldest first.
func (s *Scheduler) reap() {
	s.lock()
	if k := s.idleLow; k > 0 {
		s.dismissLocked(s.idle[:k])
		n := copy(s.idle, s.idle[k:])
		clear(s.idle[n:])
		s.idle = s.idle[:n]
	}
	s.idleLow = len(s.idle)
	if s.reaping = len(s.idle) > 0; s.reaping {
		s.reaper.Reset(reapPeriod)
	}
	s.unlock()
}

// dismissIdleLocked ends every parked goroutine (Shutdown). Under s.mu.
func (s *Scheduler) dismissIdleLocked() {
	s.dismissed = true
	s.dismissLocked(s.idle)
	clear(s.idle)
	s.idle = s.idle[:0]
	s.idleLow = 0
	if s.reaping {
		s.reaper.Stop()
		s.reaping = false
	}
}

// dismissLocked ends the goroutines parked on chs; s.wg counts them until
// they have exited.
func (s *Scheduler) dismissLocked(chs []chan *core.Task) {
	for _, ch := range chs {
		s.wg.Add(1)
		ch <- nil
	}
}

// How long an idle goroutine lingers is a rent-or-buy choice: each round
// of lingering (one yield, one try of the lock) costs its time whether or
// not work comes, and what lingering saves, if work comes, is one new
// goroutine for it. Lingering for as long as a new goroutine costs, and
// no longer, never spends more than twice what the better of the two
// choices would have, whatever the submitter does (the ski-rental bound).
// So spinRounds is the cost of a goroutine's start and end over the cost
// of a round.
//
// On the 2-core machine of the bench (2026-12-03) a goroutine's start and
// end cost 0.27-0.78 µs and a round 0.07-0.2 µs: 4-10 rounds. With 8,
// empty hooks ran as fast as with the 32 used before (which were tuned to
// one benchmark), a submitter slower than its tasks (BenchmarkPaced)
// burned a fifth less CPU, and W1, W3 and W5 did not change; with none,
// empty hooks ran 1.3x slower. Measuring the two costs when the package
// loads was tried and dropped: at that moment a start costs a fraction of
// what it costs later, and the ratio came out at its floor every time.
// Both costs grow alike with the cores (a start and a yield both go
// through the run queues), so the ratio should hold on a larger machine;
// that is not measured yet.
const spinRounds = 8

func (s *Scheduler) linger(ch *chan *core.Task) (*core.Task, bool) {
	s.lock()
	if c := s.popStartLocked(); c != nil {
		s.unlock()
		s.wg.Done() // c's count; this goroutine has its own
		return c, false
	}
	// Without a root cap a submit starts its task at once and hands
	// nothing to a lingering goroutine: lingering would only burn CPU.
	if s.spinning > 0 || s.root.closed || s.root.lim.Unlimited() {
		parked := s.parkLocked(ch)
		s.unlock()
		return nil, parked
	}
	s.spinning++
	s.unlock()
	for range spinRounds {
		runtime.Gosched()
		if s.tryLock() {
			if s.queued > 0 {
				if c := s.admitOne(0); c != nil {
					s.spinning--
					s.admitAllLocked() // submits queued behind us while slots were free
					s.unlock()
					return c, false
				}
			}
			s.unlock()
		}
	}
	s.lock()
	s.spinning--
	c := s.admitOne(0)
	s.admitAllLocked()
	parked := c == nil && s.parkLocked(ch)
	s.unlock()
	return c, parked
}
