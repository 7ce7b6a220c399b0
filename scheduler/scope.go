package scheduler

import (
	"context"

	"github.com/lazysched/lazysched/internal/core"
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
