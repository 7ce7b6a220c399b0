package scheduler

// Done hooks on a goroutine of their own.
//
// I11 wants the user code that follows a task's end off the path of the
// next task. When a task's done hooks are all that follows it and a queued
// task can take its slot, the goroutine that ran it goes on with that task
// at once, and the hooks go to the done queue, run in the order the tasks
// ended by one goroutine of the scheduler's (the runner). The other way,
// the next task handed to another goroutine and the hooks run where the
// task ended, costs a goroutine's wake on the next task's path: 1.1-1.5 µs
// a task on W5's tasks at cap 2 on 2 cores (empty hooks 1.11-1.17x none in
// three runs of 21 rounds, 2026-12-04), against 0.99-1.02x with the hooks
// run in line.
//
// The queue is bounded (maxDoneQueue): past that, the hooks run where the
// task ended, as before, so that a runner that gets no CPU cannot hold an
// unbounded number of ended tasks. A hook that blocks (it waits for another
// task's hook, or for anything else) must not hold up the hooks behind it:
// a watchdog (doneStuck) hands the rest of the queue to a new runner when
// the runner has been inside one task's hooks for a whole period, and a
// hook that calls runtime.Goexit, or Shutdown, hands the rest on too.

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/lazysched/lazysched/internal/core"
)

// maxDoneQueue bounds the tasks whose done hooks wait for the runner. On
// W5's tasks at cap 2 the runner, which competes with two busy workers for
// two cores, gets a core about every 10 ms (the runtime's preemption
// period): 1,000 tasks end in that time.
const maxDoneQueue = 4096

// doneStuck is how long the runner may stay inside one task's done hooks
// while others wait behind it.
const doneStuck = time.Millisecond

// doneEntry is a task whose done hooks are to run.
type doneEntry struct {
	c   *core.Task
	sc  *Scope
	st  core.State
	err error
}

// doneQueue is the queue of done hooks and the state of its runner; all
// but claim under s.mu.
type doneQueue struct {
	q     []doneEntry // waiting for the runner
	batch []doneEntry // the batch the runner has in hand
	spare []doneEntry // a batch's array, for the next q
	// running: a runner goroutine is started (and counted in s.wg).
	running bool
	// gen is the current runner's generation: a runner handed over (stuck,
	// or ended by runtime.Goexit) finds it moved and stops.
	gen uint32
	// base is claim's count when the batch in hand was taken.
	base uint32
	// claim is gen<<32 | a count of the entries claimed. The runner
	// claims each entry of its batch by a compare-and-swap before it runs
	// its hooks; a hand-over claims the rest in one. So no entry runs
	// twice and none is lost, whoever wins.
	claim atomic.Uint64
	// The watchdog: seen is claim at its last look; armed says the timer
	// is set.
	dog   *time.Timer
	armed bool
	seen  uint64
	// pushed and handed count entries queued and runners handed over, for
	// the tests.
	pushed, handed int
}

func claimWord(gen, n uint32) uint64 { return uint64(gen)<<32 | uint64(n) }

// room says whether a task's done hooks may go to the queue.
func (d *doneQueue) room() bool { return len(d.q) < maxDoneQueue }

// pushDoneLocked queues a task's done hooks and starts a runner if none
// is.
func (s *Scheduler) pushDoneLocked(e doneEntry) {
	d := &s.done
	d.q = append(d.q, e)
	d.pushed++
	if !d.running {
		d.running = true
		s.goTracked(s.runDone)
	} else if !d.armed && d.batch != nil {
		s.armDoneLocked() // the watchdog had nothing to watch behind the runner
	}
}

// runDone is the runner: it takes the queue a batch at a time and runs the
// hooks of each task in it, until the queue is empty or the runner has
// been handed over.
func (s *Scheduler) runDone() {
	d := &s.done
	s.lock()
	gen := d.gen
	for {
		if d.gen != gen {
			s.unlock() // handed over while it ran its last entry
			return
		}
		if len(d.q) == 0 {
			d.running = false
			d.batch = nil
			if d.armed {
				d.dog.Stop()
				d.armed = false
			}
			s.unlock()
			return
		}
		batch := d.q
		d.q, d.spare = d.spare[:0], nil
		d.batch = batch
		base := uint32(d.claim.Load())
		d.base = base
		s.armDoneLocked()
		s.unlock()
		if !s.runDoneBatch(batch, gen, base) {
			return
		}
		s.lock()
		if d.gen == gen {
			clear(batch)
			d.spare, d.batch = batch[:0], nil
		}
	}
}

// runDoneBatch runs the hooks of batch's tasks; it reports false if the
// runner was handed over (then it stops at once).
func (s *Scheduler) runDoneBatch(batch []doneEntry, gen, base uint32) bool {
	d := &s.done
	i := 0
	normal := false
	defer func() {
		if !normal {
			// A hook called runtime.Goexit: the rest of that task's hooks
			// go on elsewhere (hookRun), the rest of the batch goes to a
			// new runner.
			s.lock()
			s.handDoneOnLocked(gen, base+uint32(i)+1)
			s.unlock()
		}
	}()
	for ; i < len(batch); i++ {
		n := base + uint32(i)
		if !d.claim.CompareAndSwap(claimWord(gen, n), claimWord(gen, n+1)) {
			normal = true
			return false
		}
		e := batch[i]
		(*owner)(e.sc).Finished(e.c, e.st, e.err)
		core.DropRunCtx(e.c)
	}
	normal = true
	return true
}

// handDoneOnLocked hands the entries that the runner of generation gen has
// not claimed to a new runner, if that runner has claimed exactly n (it is
// inside the hooks of its n-th). It reports whether it did.
func (s *Scheduler) handDoneOnLocked(gen, n uint32) bool {
	d := &s.done
	if d.gen != gen || d.batch == nil || !d.claim.CompareAndSwap(claimWord(gen, n), claimWord(gen+1, 0)) {
		return false
	}
	rest := d.batch[n-d.base:]
	d.gen++
	d.handed++
	// A new array: the runner handed over still holds the old one.
	d.q = append(slices.Clip(slices.Clone(rest)), d.q...)
	d.batch, d.spare = nil, nil
	d.running = true
	s.goTracked(s.runDone)
	return true
}

// handStuckDoneLocked hands the queue on if the runner is inside a task's
// hooks and others wait: from the watchdog, and from a Shutdown that a
// hook may have called (the hooks behind it then still run, and Shutdown
// waits for them).
func (s *Scheduler) handStuckDoneLocked() bool {
	d := &s.done
	if !d.running || d.batch == nil {
		return false
	}
	w := d.claim.Load()
	gen, n := uint32(w>>32), uint32(w)
	if gen != d.gen || n == d.base {
		return false // between batches, or not yet inside one
	}
	if n-d.base >= uint32(len(d.batch)) && len(d.q) == 0 {
		return false // nothing waits behind it
	}
	return s.handDoneOnLocked(gen, n)
}

// armDoneLocked sets the watchdog, if it is not set, for a runner that
// starts a batch.
func (s *Scheduler) armDoneLocked() {
	d := &s.done
	if d.armed {
		return
	}
	d.armed = true
	d.seen = ^uint64(0) // no look yet
	if d.dog == nil {
		d.dog = time.AfterFunc(doneStuck, s.watchDone)
	} else {
		d.dog.Reset(doneStuck)
	}
}

// watchDone is the watchdog: a runner that claimed nothing for a whole
// period is inside one task's hooks for at least that long.
func (s *Scheduler) watchDone() {
	s.lock()
	d := &s.done
	if !d.armed {
		s.unlock()
		return
	}
	if w := d.claim.Load(); w == d.seen {
		s.handStuckDoneLocked()
	}
	d.seen = d.claim.Load()
	// It looks again while hooks wait behind the runner's current entry;
	// else pushDoneLocked sets it again when one comes.
	if d.running && (len(d.q) > 0 || d.batch == nil || int(uint32(d.seen)-d.base) < len(d.batch)) {
		d.dog.Reset(doneStuck)
	} else {
		d.armed = false
	}
	s.unlock()
}
