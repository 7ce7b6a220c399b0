package scheduler

import (
	"context"

	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/lazytask"
)

// Scope is a node of the scheduler's task tree: every task runs in exactly
// one scope, and its context derives from the scope's. The scheduler's root
// scope is returned by Scheduler.Root. The zero value is not usable.
type Scope struct {
	s      *Scheduler
	bind   core.Binding
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func newRoot(s *Scheduler) *Scope {
	ctx, cancel := context.WithCancelCause(context.Background())
	sc := &Scope{s: s, ctx: ctx, cancel: cancel}
	sc.bind.Owner = (*owner)(sc)
	return sc
}

func (sc *Scope) target() *Scope { return sc }

// Context returns the scope's context: the parent of its tasks' contexts.
// It is canceled when the scope is canceled or shut down.
func (sc *Scope) Context() context.Context { return sc.ctx }

// Scheduler returns the scheduler the scope belongs to.
func (sc *Scope) Scheduler() *Scheduler { return sc.s }

// Enqueue hands a Lazy task to the scope's queue. It returns ErrNotQueued
// (wrapped with the task's state) if the task is not Lazy,
// ErrWeightTooLarge, ErrClosed or ErrQueueFull; on error the task is left as
// it was, so the caller may start it, retry or cancel it.
func (sc *Scope) Enqueue(h lazytask.Handle) error {
	c, err := coreOf(h)
	if err != nil {
		return err
	}
	return sc.enqueue(c, false)
}

// Force runs h now, over the cap, whatever waits in the queue: h may be
// Queued in this scheduler, or Lazy (it then joins the scope). The run is
// counted in Stats.OverCap while it lasts and in Stats.ForceRuns. Calling
// h.Start() on a queued task does the same. Force returns ErrNotQueued for
// a task in another state or scheduler, and ErrClosed for a Lazy task after
// Shutdown.
func (sc *Scope) Force(h lazytask.Handle) error {
	c, err := coreOf(h)
	if err != nil {
		return err
	}
	return sc.force(c)
}
