package scheduler

import (
	"context"
	"fmt"
	"math"
	"runtime"

	"github.com/lazysched/lazysched/internal/check"
	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/lazytask"
)

// refuseLocked says why sc takes no task of weight w (0: no task, a scope).
func (sc *Scope) refuseLocked(w int64) error {
	if sc.closed {
		return ErrClosed
	}
	if sc.dead {
		return fmt.Errorf("%w: %w", ErrScopeCanceled, sc.cause)
	}
	if sc.ctx.Err() != nil {
		// Canceled through its context (the base context, a timeout); the
		// cancellation that marks it dead is on its way.
		return fmt.Errorf("%w: %w", ErrScopeCanceled, context.Cause(sc.ctx))
	}
	if sc.deadline != 0 && core.Now() >= sc.deadline {
		// Timed out; the cancellation that marks it dead is on its way.
		return fmt.Errorf("%w: %w", ErrScopeCanceled, context.DeadlineExceeded)
	}
	return sc.tooHeavyLocked(w)
}

// tooHeavyLocked says why w slots can never fit the caps on sc's path. On
// an Unlimited scheduler that is a weight whose sum with the slots in use
// (over-cap ones too) would overflow the count.
func (sc *Scope) tooHeavyLocked(w int64) error {
	for p := sc; p != nil && w > 0; p = p.parent {
		if !p.lim.Unlimited() && w > p.lim.Limit() {
			return fmt.Errorf("%w: weight %d, cap %d of scope %q", ErrWeightTooLarge, w, p.lim.Limit(), p.name)
		}
	}
	if root := sc.s.root; root.lim.Unlimited() && w > math.MaxInt64-root.lim.InUse()-sc.s.forced {
		return fmt.Errorf("%w: weight %d would overflow the %d slots in use", ErrWeightTooLarge, w, root.lim.InUse()+sc.s.forced)
	}
	return nil
}

// fitsBelowRoot reports whether w more slots fit in every capped scope on
// the path from sc up to, not including, the root.
func (sc *Scope) fitsBelowRoot(w int64) bool {
	for p := sc; p.parent != nil; p = p.parent {
		if !p.lim.Fits(w) {
			return false
		}
	}
	return true
}

func (sc *Scope) fitsPath(w int64) bool {
	return sc.fitsBelowRoot(w) && sc.s.root.lim.Fits(w)
}

func (sc *Scope) takePath(w int64) {
	for p := sc; p != nil; p = p.parent {
		p.lim.Take(w) // panics if w does not fit: the cap (I3) holds by construction
		if check.Enabled {
			check.That(p.lim.Unlimited() || p.lim.InUse() <= p.lim.Limit(), "scope %q: %d slots in use over its cap %d", p.name, p.lim.InUse(), p.lim.Limit())
		}
	}
}

// putPath gives back w slots on sc's path and wakes the scopes parked on
// a cap that now has room.
func (sc *Scope) putPath(w int64) {
	for p := sc; p != nil; p = p.parent {
		p.lim.Put(w)
		if p.parked.len() > 0 && p.parent != nil {
			p.wakeLocked()
		}
	}
}

// addTaskLocked counts a new queued or running task in the subtree counts.
func (sc *Scope) addTaskLocked() {
	for p := sc; p != nil; p = p.parent {
		p.tasks++
	}
}

// doneTaskLocked uncounts a task and wakes the waiters of scopes it empties
// (down to the tasks that are themselves waiting from inside).
func (sc *Scope) doneTaskLocked() {
	for p := sc; p != nil; p = p.parent {
		p.tasks--
		if p.idle != nil && p.tasks <= p.insiders {
			close(p.idle)
			p.idle = nil
		}
		if p.detach && p.tasks == 0 {
			p.detachLocked()
		}
	}
}

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
	// cap there is nothing to wait for, so the task starts at once.
	run := s.queued == 0 && (s.spinning == 0 || s.root.lim.Unlimited()) && sc.sharer == nil && sc.fitsPath(w)
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
		at := core.Created(c)
		if !made {
			at = core.Now()
		}
		if !core.Enqueue(c, &sc.bind, at) {
			st := core.StateOf(c)
			s.unlock()
			return fmt.Errorf("%w: task is %v", ErrNotQueued, lazytask.State(st))
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
		s.unlock()
		s.spawn(c)
		return nil
	}
	sc.pushLocked(c)
	if s.spinning == 0 && sc.fitsPath(w) {
		s.admitAllLocked()
	}
	s.unlock()
	return nil
}

func (sc *Scope) pushLocked(c *core.Task) {
	s := sc.s
	sc.q.Push(c)
	s.queued++
	if sc.sharer != nil {
		sc.sharer.shared.queued++
	}
	sc.placeLocked()
}

// unqueueLocked takes a queued task out of sc's queue.
func (sc *Scope) unqueueLocked(c *core.Task) {
	sc.q.Remove(c)
	sc.s.queued--
	sc.placeLocked()
	if x := sc.sharer; x != nil {
		if x.shared.queued--; x.shared.queued == 0 {
			x.dropSharedLocked()
		}
	}
	sc.s.roomLocked()
}

// enqueueWait waits for room in a bounded queue.
func (sc *Scope) enqueueWait(ctx context.Context, c *core.Task) error {
	s := sc.s
	if s.cfg.queueLimit == 0 {
		return sc.enqueue(c, false, true) // unbounded: SubmitWait is Submit
	}
	for {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		err := sc.enqueue(c, false, true)
		if err != ErrQueueFull {
			return err
		}
		s.lock()
		if s.queued < s.cfg.queueLimit {
			s.unlock()
			continue
		}
		if s.room == nil {
			s.room = make(chan struct{})
		}
		room := s.room
		s.unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// bindLazy records a Lazy task made for sc, so that closing sc cancels it.
func (sc *Scope) bindLazy(c *core.Task) error {
	s := sc.s
	s.lock()
	defer s.unlock()
	if err := sc.refuseLocked(0); err != nil {
		return err
	}
	if st := core.StateOf(c); st != core.Lazy {
		return fmt.Errorf("%w: task is %v", ErrNotQueued, lazytask.State(st)) // a hook ended or started it
	}
	core.Bind(c, &sc.bind)
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
	s.lockFor(c)
	run := sc
	switch core.StateOf(c) {
	case core.Queued:
		run = s.scopeOf(c)
		if run == nil {
			s.unlock()
			return fmt.Errorf("%w: queued in another scheduler", ErrNotQueued)
		}
		run.unqueueLocked(c)
		core.Admit(c, true, 0)
	case core.Lazy:
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
		if !core.AdmitLazy(c, &run.bind, true) {
			s.unlock()
			return fmt.Errorf("%w: task is %v", ErrNotQueued, lazytask.State(core.StateOf(c)))
		}
		if bound {
			run.unbindLocked(c)
		} else {
			run.count(cCreated)
		}
		if run.startHooks {
			core.MarkHooked(c)
		}
		run.count(cSubmitted)
		run.addTaskLocked()
	default:
		st := core.StateOf(c)
		s.unlock()
		return fmt.Errorf("%w: task is %v", ErrNotQueued, lazytask.State(st))
	}
	run.running.PushBack(c)
	s.forced += w
	s.overTasks++
	s.running++
	run.count(cForceRuns)
	s.wg.Add(1)
	s.spawn(c)
	s.admitAllLocked() // taking out the head may let the tasks behind it in
	s.unlock()
	return nil
}

// goTracked runs f on a new goroutine that Shutdown waits for.
func (s *Scheduler) goTracked(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// spawn runs c and what follows it on a new goroutine, or on the executor.
func (s *Scheduler) spawn(c *core.Task) {
	if s.cfg.exec != nil {
		s.cfg.exec(func() { s.work(c) })
		return
	}
	go s.work(c)
}

// work runs c, then whatever the scheduler hands this goroutine next. When
// nothing is left, one goroutine at a time lingers for a moment before it
// exits: a submitter slower than the tasks then hands its next task to that
// goroutine through the queue instead of starting a goroutine per task.
func (s *Scheduler) work(c *core.Task) {
	defer s.wg.Done()
	s.loop(c)
}

// loop is work's body: run c and what follows, then linger.
func (s *Scheduler) loop(c *core.Task) {
	for c != nil {
		for c != nil {
			c = core.Execute(c)
		}
		c = s.linger()
	}
}

// spinRounds bounds how long an idle goroutine lingers: each round yields
// the processor once, about 0.1-1 µs.
const spinRounds = 32

func (s *Scheduler) linger() *core.Task {
	s.lock()
	// Without a root cap a submit starts its task at once and hands
	// nothing to a lingering goroutine: lingering would only burn CPU.
	if s.spinning > 0 || s.root.closed || s.root.lim.Unlimited() {
		s.unlock()
		return nil
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
					return c
				}
			}
			s.unlock()
		}
	}
	s.lock()
	s.spinning--
	c := s.admitOne(0)
	s.admitAllLocked()
	s.unlock()
	return c
}

// admitAllLocked admits every task that fits, each on a new goroutine.
func (s *Scheduler) admitAllLocked() {
	if len(s.reclaims) > 0 && s.queued == 0 {
		s.grantReclaimsLocked()
	}
	for s.queued > 0 {
		c := s.admitOne(0)
		if c == nil {
			break
		}
		s.wg.Add(1)
		s.spawn(c)
	}
}

// roomLocked wakes SubmitWait callers when the queue has room.
func (s *Scheduler) roomLocked() {
	if s.room != nil && s.queued < s.cfg.queueLimit {
		close(s.room)
		s.room = nil
	}
}
