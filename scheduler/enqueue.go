package scheduler

// Enqueue: how a task gets into a scope's queue (or starts at once), and
// the other ways in and out of it (lazy binding, force-run).

import (
	"context"
	"fmt"

	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/lazytask"
)

// enqueue queues c, or starts it at once if a slot is free and nothing
// waits. made marks a task that Submit or SubmitWait has just made: making
// and queueing it are one call, so it is queued at its creation time (a
// task handed over later with Enqueue is queued when it is handed over).
// fresh adds that nobody else can see the task (no hook has): it skips the
// compare-and-swaps.
func (sc *Scope) enqueue(c *core.Task, fresh, made bool) error {
	s := sc.s
	w := core.Weight(c)
	s.lock()
	if err := sc.refuseLocked(w); err != nil {
		s.unlock()
		return err
	}
	if s.cfg.queueLimit > 0 && s.queued >= s.cfg.queueLimit {
		s.unlock()
		return ErrQueueFull
	}
	// A lingering goroutine takes the next task through the queue; with no
	// cap there is nothing to wait for, so the task starts at once. A task
	// back from a wait that waits for its slots (or runs over the cap until
	// they come back) goes first: admitOne serves it.
	run := s.queued == 0 && (s.spinning == 0 || s.root.lim.Unlimited()) && sc.sharer == nil && len(s.reclaims) == 0 && sc.fitsPath(w)
	startHooks := sc.startHooks
	switch {
	case fresh:
		sc.count(cCreated)
		core.EnqueueFresh(c, &sc.bind, run, startHooks)
	default:
		b := core.Bound(c)
		if b != nil && b != &sc.bind {
			s.unlock()
			return fmt.Errorf("%w: task is bound to another scope", ErrForeignHandle)
		}
		var at int64 // the queued time, for a task that keeps timings
		// A task handed over by code that made it without timings keeps
		// them from its handoff on, if this scope keeps them; a refused
		// handoff leaves it without.
		mark := s.timed || sc.timedHooks
		if mark || core.Timed(c) {
			if at = core.Created(c); !made || at == 0 {
				at = s.now()
			}
		}
		if !core.Enqueue(c, &sc.bind, at, mark) {
			st := core.StateOf(c)
			s.unlock()
			return notQueued(c, st)
		}
		if b != nil {
			sc.unbindLocked(c)
		} else {
			sc.count(cCreated)
		}
		if run {
			core.Admit(c, false, 0)
		}
		if startHooks {
			core.MarkHooked(c)
		}
	}
	sc.count(cSubmitted)
	sc.addTaskLocked()
	if run {
		sc.takePath(w)
		sc.running.PushBack(c)
		s.running++
		s.wg.Add(1)
		if len(s.idle) > 0 {
			s.startLocked(c)
		} else if !s.deferStartLocked(c) {
			s.spawnLocked()
			s.unlock()
			s.spawn(c)
			return nil
		}
		s.unlock()
		return nil
	}
	core.SetOrder(c, s.orderOf(c))
	sc.pushLocked(c)
	if s.spinning == 0 && sc.fitsPath(w) {
		s.admitAllLocked()
	}
	s.unlock()
	return nil
}

// orderOf is c's FIFO key (core.SetOrder), taken when it is queued: its
// queued time if aging is on (aging compares waits; every task keeps its
// timings then), else the next number of a count that every queued task
// takes, so that FIFO across scopes holds without a clock read.
//
// With aging the key is also made later than every key before it (by a
// nanosecond where the clock did not move: a coarse clock, or a fake one),
// so that tasks queued at one reading still break ties FIFO, across scopes
// as within one.
func (s *Scheduler) orderOf(c *core.Task) int64 {
	if s.agingStep > 0 {
		at := core.QueuedAt(c)
		for {
			last := s.seq.Load()
			k := max(at, last+1)
			if s.seq.CompareAndSwap(last, k) {
				return k
			}
		}
	}
	return s.seq.Add(1)
}

// pushLocked links c, its FIFO key set, into sc's queue.
func (sc *Scope) pushLocked(c *core.Task) {
	s := sc.s
	sc.q.Push(c)
	s.queued++
	if sc.sharer != nil {
		sc.sharer.shared.queued++
	}
	sc.placeLocked()
	if core.HasDeadline(c) {
		core.ArmQueueDeadline(c, s.clk, func() { sc.expire(c) })
	}
}

// unqueueLocked takes a queued task out of sc's queue.
func (sc *Scope) unqueueLocked(c *core.Task) {
	sc.q.Remove(c)
	core.StopQueueDeadline(c)
	sc.s.queued--
	sc.placeLocked()
	if x := sc.sharer; x != nil {
		if x.shared.queued--; x.shared.queued == 0 {
			x.dropSharedLocked()
		} else if r := x.shared.spare; r != nil && r.asked == c {
			// The spare permit was kept for c, which leaves the queue
			// without it (canceled, force-run): the scopes parked at x
			// for it look again, to take it or give it back and ask.
			x.wakeAllLocked()
		} else if r := x.shared.req; r != nil && r.asked == c {
			// The request in flight was made for c: the scopes parked
			// at x for it look again, to keep it if their head has its
			// weight, or withdraw it and ask for their head.
			r.left = true
			x.wakeAllLocked()
		}
	}
	sc.s.roomLocked()
}

// expire ends c Failed with context.DeadlineExceeded, on its timer's
// goroutine, if it still waits in sc's queue when its own deadline passes:
// it could no longer run (admission would end it so), and it leaves the
// queue now, so that its Await returns at its deadline and its place in a
// bounded queue frees up. As for a task that ran out of time, sc's policy
// sees the error.
func (sc *Scope) expire(c *core.Task) {
	s := sc.s
	if s.lockFor(c) != core.Queued || !sc.endUnstartedLocked(c, core.Failed, context.DeadlineExceeded) {
		s.unlock() // admitted, forced or ended first
		return
	}
	s.unlockFailedUnstarted([]*core.Task{c}, []deferredReport{{sc: sc, err: context.DeadlineExceeded}})
}

// enqueueWait waits for room in a bounded queue.
func (sc *Scope) enqueueWait(ctx context.Context, c *core.Task) error {
	s := sc.s
	if s.cfg.queueLimit == 0 {
		return sc.enqueue(c, false, true) // unbounded: SubmitWait is Submit
	}
	var ended <-chan struct{}
	for {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		// A task that is no longer Lazy waits for no room: a hook (or a
		// goroutine it gave the handle to) or its carried context ended
		// or force-ran it. Submit then tells which.
		if st := core.Settled(c); st != core.Lazy {
			return notQueued(c, st)
		}
		err := sc.enqueue(c, false, true)
		if err != ErrQueueFull {
			return err
		}
		s.lock()
		// Looked at again under the lock under which the room channel is
		// made: a cancel or Shutdown of the scope, or a force-run of the
		// task, since enqueue let the lock go woke the waiters before this
		// one waits (wakeRoomLocked found no channel), so it would wait
		// for room that may never come. enqueue then refuses it, or
		// Settled finds the task handed over.
		if s.queued < s.cfg.queueLimit || sc.refuseLocked(core.Weight(c)) != nil || core.StateOf(c) != core.Lazy {
			s.unlock()
			continue
		}
		if s.room == nil {
			s.room = make(chan struct{})
		}
		room := s.room
		s.unlock()
		if ended == nil {
			ended = core.Done(c) // closed when the task ends, whoever ends it
		}
		// Called from inside a task (with its context) at a full cap, the
		// room may come only once a queued task runs in this task's slot:
		// the slot is lent while SubmitWait waits (I9), as Await lends it.
		// The room may come from the queued task the lend let in, which
		// then holds the slot: taking it back waits only until ctx ends.
		reclaim := core.BeginWaitBounded(ctx)
		select {
		case <-room: // room, or the scope closed or was canceled
		case <-ended:
		case <-ctx.Done():
			if reclaim != nil {
				reclaim(true) // cut short: its context ended first
			}
			return core.DoneCause(ctx)
		}
		if reclaim != nil {
			reclaim(false)
		}
	}
}

// wakeRoomLocked wakes the SubmitWait callers, to look again: room was
// made, or a scope that they may wait for closed or was canceled (they are
// refused then).
func (s *Scheduler) wakeRoomLocked() {
	if s.room != nil {
		close(s.room)
		s.room = nil
	}
}

// notQueued is ErrNotQueued for c, found in state st: with c's own error
// too once c has ended (canceled by a hook or its carried context, say),
// so that errors.Is finds the cause.
func notQueued(c *core.Task, st core.State) error {
	if core.IsDone(c) {
		if err := core.Err(c); err != nil {
			return fmt.Errorf("%w: task is %v: %w", ErrNotQueued, lazytask.State(st), err)
		}
	}
	return fmt.Errorf("%w: task is %v", ErrNotQueued, lazytask.State(st))
}

// bindLazy records a Lazy task made for sc, so that closing sc cancels it.
func (sc *Scope) bindLazy(c *core.Task) error {
	s := sc.s
	s.lock()
	defer s.unlock()
	if err := sc.refuseLocked(0); err != nil {
		return err
	}
	// A hook may have ended or started it, or given the handle to another
	// goroutine, and a carried context may cancel it from its own: the
	// bind is a change of the state word, so that a cancel that read the
	// task unbound retries through the scope (or came first, and the bind
	// fails).
	if !core.BindLazy(c, &sc.bind) {
		return notQueued(c, core.StateOf(c))
	}
	sc.lazy.PushBack(c)
	sc.count(cCreated)
	s.lazy++
	return nil
}

// unbindLocked takes a bound Lazy task out of sc's list of them: it is
// being queued, started or ended.
func (sc *Scope) unbindLocked(c *core.Task) {
	sc.lazy.Remove(c)
	sc.s.lazy--
}

// scopeOf returns the scope of a task bound to, queued or running in this
// scheduler, or nil.
func (s *Scheduler) scopeOf(c *core.Task) *Scope {
	b := core.Bound(c)
	if b == nil {
		return nil
	}
	o, ok := b.Owner.(*owner)
	if !ok || o.s != s {
		return nil
	}
	return (*Scope)(o)
}

func (sc *Scope) force(c *core.Task) error {
	s := sc.s
	w := core.Weight(c)
	run := sc
	for taken := false; !taken; {
		switch st := s.lockFor(c); st {
		case core.Queued:
			run = s.scopeOf(c)
			if run == nil {
				s.unlock()
				return fmt.Errorf("%w: queued in another scheduler", ErrNotQueued)
			}
			run.unqueueLocked(c)
			core.Admit(c, true, 0)
			taken = true
		case core.Lazy:
			run = sc
			if b := core.Bound(c); b != nil {
				run = s.scopeOf(c)
				if run == nil {
					s.unlock()
					return fmt.Errorf("%w: task is bound to another scheduler", ErrForeignHandle)
				}
			}
			if err := run.refuseLocked(0); err != nil {
				s.unlock()
				return err
			}
			bound := core.Bound(c) != nil
			if !core.AdmitLazy(c, &run.bind, true, s.timed || run.timedHooks) {
				// A hooked submit claimed c for its inbox after
				// lockFor's read, or c ended: look again (lockFor
				// waits for the push).
				s.unlock()
				continue
			}
			if bound {
				run.unbindLocked(c)
			} else {
				run.count(cCreated)
				// A SubmitWait may be waiting for queue room for this
				// very task (a goroutine its hooks gave the handle to
				// force-ran it): it looks again, and returns, now that
				// it is no longer Lazy, not once the run ends.
				s.wakeRoomLocked()
			}
			if run.startHooks {
				core.MarkHooked(c)
			}
			run.count(cSubmitted)
			run.addTaskLocked()
			taken = true
		default:
			s.unlock()
			return notQueued(c, st)
		}
	}
	run.running.PushBack(c)
	s.forced += w
	s.overTasks++
	s.running++
	run.count(cForceRuns)
	s.wg.Add(1)
	s.startLocked(c)
	s.admitAllLocked() // taking out the head may let the tasks behind it in
	s.unlock()
	return nil
}

// roomLocked wakes SubmitWait callers when the queue has room.
func (s *Scheduler) roomLocked() {
	if s.queued < s.cfg.queueLimit {
		s.wakeRoomLocked()
	}
}
