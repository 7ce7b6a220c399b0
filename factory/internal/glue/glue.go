// Package glue holds what the factory packages share and export to nobody:
// waits that lend a running task's slot (invariant I9), and the scope
// behind a scheduler.Spawner.
package glue

import (
	"context"

	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/scheduler"
)

// Block runs wait, a call that blocks, the way lazytask's Await blocks: if
// ctx belongs to a task running in a scheduler, that task's slot is lent
// while wait runs and taken back after, so that a task waiting for work of
// its own scheduler cannot deadlock the cap. A nil ctx lends nothing.
func Block(ctx context.Context, wait func()) { BlockOn(ctx, nil, wait) }

// BlockOn is Block for a wait that the end of one of the tasks that g
// watches ends (core.Gate): that task's end hands the slot back to ctx's
// task ahead of the queue. A nil g is Block.
func BlockOn(ctx context.Context, g *core.Gate, wait func()) {
	if ctx != nil {
		if reclaim := g.Begin(ctx, false); reclaim != nil {
			defer reclaim(false) // wait ends when what it waits for does
		}
	}
	wait()
}

// Recv receives from ch, lending the slot of ctx's task while it blocks
// (see Block). If ctx ends first it returns context.Cause(ctx); a value
// already there wins over a done ctx.
func Recv[T any](ctx context.Context, ch <-chan T) (v T, err error) {
	return RecvOn(ctx, nil, ch, false)
}

// RecvOn is Recv for a channel that the done callbacks of the tasks that g
// watches feed (core.Gate): the first of them to end hands the slot back
// to ctx's task ahead of the queue. last says that the value received is
// the last the caller waits for (every task it started has ended once it
// comes): if the slot was taken meanwhile, the caller then waits for it,
// as Await does; otherwise it goes on over the cap until the slot is free,
// since the tasks still running may be waiting for one still queued. A
// nil g is Recv.
func RecvOn[T any](ctx context.Context, g *core.Gate, ch <-chan T, last bool) (v T, err error) {
	select {
	case v = <-ch:
		if last {
			// An earlier end may have sent the caller on over the cap;
			// with its last task ended it waits for its slots instead.
			// (Below, Begin's lend ends such a run, and the reclaim of a
			// last wait waits.)
			g.Settle()
		}
		return v, nil
	default:
	}
	if err := ctx.Err(); err != nil {
		return v, context.Cause(ctx)
	}
	reclaim := g.Begin(ctx, last)
	select {
	case v = <-ch:
		err = nil
	case <-ctx.Done():
		err = core.DoneCause(ctx)
	}
	if reclaim != nil {
		reclaim(err != nil) // cut short: ctx ended first
	}
	return v, err
}

// Scope returns the scope behind sp: the root scope of a *Scheduler, or
// the *Scope itself; nil for a nil sp. Spawner has only these two
// implementations.
func Scope(sp scheduler.Spawner) *scheduler.Scope {
	switch v := sp.(type) {
	case *scheduler.Scheduler:
		if v != nil {
			return v.Root()
		}
	case *scheduler.Scope:
		return v
	}
	return nil
}
