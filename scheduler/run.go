package scheduler

import (
	"context"
	"fmt"
	"runtime"

	"github.com/lazysched/lazysched/internal/core"
)

// owner is a Scope seen as the core.Owner of its tasks; it keeps the core's
// hooks out of the Scope's exported method set.
type owner Scope

// enqueue queues c, or starts it at once if a slot is free and nothing
// waits. fresh marks a task that Submit has just made and nobody else can
// see: it skips the compare-and-swaps.
func (sc *Scope) enqueue(c *core.Task, fresh bool) error {
	s := sc.s
	w := core.Weight(c)
	s.mu.Lock()
	if err := s.refuseLocked(w); err != nil {
		s.mu.Unlock()
		return err
	}
	if s.cfg.queueLimit > 0 && s.q.Len() >= s.cfg.queueLimit {
		s.mu.Unlock()
		return ErrQueueFull
	}
	run := s.q.Len() == 0 && s.lim.Fits(w) && s.spinning == 0
	switch {
	case fresh:
		core.EnqueueFresh(c, &sc.bind, run)
	case !core.Enqueue(c, &sc.bind, core.Now()):
		st := core.StateOf(c)
		s.mu.Unlock()
		return fmt.Errorf("%w: task is %v", ErrNotQueued, stateName(st))
	case run:
		core.Admit(c, false, 0)
	}
	s.stats.submitted++
	if run {
		s.lim.Take(w)
		s.running++
		s.wg.Add(1)
		s.mu.Unlock()
		go s.work(c)
		return nil
	}
	s.q.Push(c)
	s.mu.Unlock()
	return nil
}

func (s *Scheduler) refuseLocked(w int64) error {
	if s.closed {
		return ErrClosed
	}
	if !s.lim.Unlimited() && w > s.lim.Limit() {
		return fmt.Errorf("%w: weight %d, cap %d", ErrWeightTooLarge, w, s.lim.Limit())
	}
	return nil
}

// enqueueWait waits for room in a bounded queue.
func (sc *Scope) enqueueWait(ctx context.Context, c *core.Task) error {
	s := sc.s
	for {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		err := sc.enqueue(c, false)
		if err != ErrQueueFull {
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		if s.q.Len() < s.cfg.queueLimit {
			s.mu.Unlock()
			continue
		}
		if s.room == nil {
			s.room = make(chan struct{})
		}
		room := s.room
		s.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func (sc *Scope) force(c *core.Task) error {
	s := sc.s
	w := core.Weight(c)
	s.mu.Lock()
	switch core.StateOf(c) {
	case core.Queued:
		if !s.owns(c) {
			s.mu.Unlock()
			return fmt.Errorf("%w: queued in another scheduler", ErrNotQueued)
		}
		s.q.Remove(c)
		core.Admit(c, true, 0)
		s.roomLocked()
	case core.Lazy:
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		if !core.AdmitLazy(c, &sc.bind, true) {
			s.mu.Unlock()
			return fmt.Errorf("%w: task is %v", ErrNotQueued, stateName(core.StateOf(c)))
		}
		s.stats.submitted++
	default:
		st := core.StateOf(c)
		s.mu.Unlock()
		return fmt.Errorf("%w: task is %v", ErrNotQueued, stateName(st))
	}
	s.forced += w
	s.overTasks++
	s.running++
	s.stats.forceRuns++
	s.wg.Add(1)
	s.mu.Unlock()
	go s.work(c)
	return nil
}

func (s *Scheduler) owns(c *core.Task) bool {
	o, ok := core.OwnerOf(c).(*owner)
	return ok && o.s == s
}

// work runs c, then whatever the scheduler hands this goroutine next. When
// the queue is empty, one goroutine at a time lingers for a moment before it
// exits: a submitter that is slower than the tasks then hands its next task
// to that goroutine through the queue instead of starting a new goroutine
// per task.
func (s *Scheduler) work(c *core.Task) {
	defer s.wg.Done()
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
	s.mu.Lock()
	if s.spinning > 0 || s.closed {
		s.mu.Unlock()
		return nil
	}
	s.spinning++
	s.mu.Unlock()
	for range spinRounds {
		runtime.Gosched()
		if s.mu.TryLock() {
			if s.q.Len() > 0 {
				c := s.admitOne(0)
				if c != nil {
					s.spinning--
					s.mu.Unlock()
					return c
				}
			}
			s.mu.Unlock()
		}
	}
	s.mu.Lock()
	s.spinning--
	c := s.admitOne(0)
	s.mu.Unlock()
	return c
}

// admitOne admits the head of the queue if it fits, under s.mu; now is
// its start time (0: read the clock).
func (s *Scheduler) admitOne(now int64) *core.Task {
	c := s.q.Peek()
	if c == nil {
		return nil
	}
	w := core.Weight(c)
	if !s.lim.Fits(w) {
		return nil
	}
	s.q.Remove(c)
	core.Admit(c, false, now)
	s.lim.Take(w)
	s.running++
	return c
}

// admitAllLocked admits every head that fits, each on a new goroutine.
func (s *Scheduler) admitAllLocked() {
	for {
		c := s.admitOne(0)
		if c == nil {
			break
		}
		s.wg.Add(1)
		go s.work(c)
	}
	s.roomLocked()
}

// roomLocked wakes SubmitWait callers and Wait callers when there is
// reason to.
func (s *Scheduler) roomLocked() {
	if s.room != nil && s.q.Len() < s.cfg.queueLimit {
		close(s.room)
		s.room = nil
	}
	if s.idle != nil && s.running == 0 && s.q.Len() == 0 {
		close(s.idle)
		s.idle = nil
	}
}

func (o *owner) Context() context.Context { return o.ctx }

func (o *owner) Release(c *core.Task, st core.State, exiting bool) *core.Task {
	s := o.s
	w := core.Weight(c)
	s.mu.Lock()
	if core.OverCap(c) {
		s.forced -= w
		s.overTasks--
	} else if core.PeekOwnerWord(c) == 0 {
		s.lim.Put(w)
	}
	s.running--
	switch st {
	case core.Succeeded:
		s.stats.succeeded++
	case core.Failed:
		s.stats.failed++
	default:
		s.stats.canceled++
	}
	var next *core.Task
	if !exiting {
		next = s.admitOne(core.Finished(c))
	}
	s.admitAllLocked()
	s.mu.Unlock()
	return next
}

func (o *owner) Cancel(c *core.Task) bool {
	s := o.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !core.CancelQueued(c) {
		return false
	}
	s.q.Remove(c)
	s.stats.canceled++
	s.admitAllLocked()
	return true
}

func (o *owner) Force(c *core.Task) error { return (*Scope)(o).force(c) }

func (o *owner) Report(c *core.Task, err error) {
	o.s.logger().Error("lazysched: done callback panicked", "err", err)
}

// Lend frees a running task's slots while its function awaits another task,
// so that nested fan-out on one cap cannot deadlock (I9).
func (o *owner) Lend(c *core.Task) {
	s := o.s
	w := core.Weight(c)
	s.mu.Lock()
	n := core.OwnerWord(c)
	*n++
	if *n == 1 {
		if core.OverCap(c) {
			s.forced -= w
			s.overTasks--
			core.SetOverCap(c, false)
		} else {
			s.lim.Put(w)
		}
		s.admitAllLocked()
	}
	s.mu.Unlock()
}

// Reclaim takes the lent slots back once the wait ends, or runs the task on
// over the cap, counted, if they are taken.
func (o *owner) Reclaim(c *core.Task) {
	s := o.s
	w := core.Weight(c)
	s.mu.Lock()
	n := core.OwnerWord(c)
	*n--
	if *n == 0 {
		if s.lim.Fits(w) {
			s.lim.Take(w)
		} else {
			core.SetOverCap(c, true)
			s.forced += w
			s.overTasks++
		}
	}
	s.mu.Unlock()
}

func stateName(st core.State) string {
	return [...]string{"lazy", "queued", "running", "succeeded", "failed", "canceled"}[min(int(st), 5)]
}
