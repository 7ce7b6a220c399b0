package factory

import (
	"context"

	"github.com/lazysched/lazysched/factory/internal/glue"
	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/lazytask"
)

// submitAll submits every fn to f; each task sends its index on the
// returned channel when it ends (a refused one at once). The gate (nil
// unless ctx is a running task's) watches them all: waits on the channel
// made on the gate (glue.RecvOn) get the caller's slot back ahead of the
// queue when one of them ends (I9).
func submitAll[T any](ctx context.Context, f Factory, fns []func(ctx context.Context) (T, error)) ([]*lazytask.Task[T], chan int, *core.Gate) {
	ended := make(chan int, len(fns))
	tasks := make([]*lazytask.Task[T], len(fns))
	g := core.NewGate(ctx)
	for i, fn := range fns {
		tasks[i] = submitNotify(ctx, f, g, fn, ended, i)
	}
	return tasks, ended, g
}

// submitNotify submits fn to f and sends i on ended when its task ends.
// ended must have room for the send. The task carries ctx's values (a trace
// span, a request id), so that hooks and fn see them; the combinators
// cancel their tasks themselves when ctx ends.
// g, if not nil, watches the task.
func submitNotify[T any](ctx context.Context, f Factory, g *core.Gate, fn func(ctx context.Context) (T, error), ended chan<- int, i int) *lazytask.Task[T] {
	// ctx's values go first: a WithOptions factory's own WithContext or
	// WithValues (a request's context, its cancellation with it) wins.
	f, opts := unwrapOptions(f, []lazytask.Option{lazytask.WithValues(ctx)}, nil)
	t, _ := Submit(f, fn, opts...)
	g.OnDone(core.Of(t), func() { ended <- i }) // the first callback: g watches t
	return t
}

// cancelAll cancels the tasks with cause, the last submitted first: tasks
// that wait in a queue are behind the running ones, and canceling them first
// keeps a slot that a canceled running task frees from starting one of them.
func cancelAll[T any](tasks []*lazytask.Task[T], cause error) {
	for i := len(tasks) - 1; i >= 0; i-- {
		if t := tasks[i]; t != nil {
			t.Cancel(cause)
		}
	}
}

// drain waits for the n tasks still to end, whatever happens to ctx: it
// keeps ctx's values, so that the calling task still lends its slot
// meanwhile.
func drain(ctx context.Context, g *core.Gate, ended <-chan int, n int) {
	ctx = context.WithoutCancel(ctx)
	for k := range n {
		_, _ = glue.RecvOn(ctx, g, ended, k == n-1)
	}
}

// recvOrCancel receives the index of the next task to end; last says it is
// the last still to end (glue.RecvOn). If *wait ends first, it cancels the
// tasks with its cause, makes *wait a context that no longer ends (so that
// the canceled tasks are still received), and returns the cause.
func recvOrCancel[T any](wait *context.Context, g *core.Gate, ended <-chan int, tasks []*lazytask.Task[T], last bool) (int, error) {
	i, err := glue.RecvOn(*wait, g, ended, last)
	if err != nil {
		cancelAll(tasks, err)
		*wait = context.WithoutCancel(*wait)
	}
	return i, err
}
