package factory

import (
	"context"
	"iter"
)

// Result is the outcome of one task: its value and its error. The zero
// value is a zero T and no error.
type Result[T any] struct {
	Value T
	Err   error
}

// AsCompleted runs every fn as a task of f and yields each task's index in
// fns and its Result in the order the tasks end. The tasks start when the
// loop starts (each loop over the sequence runs them again), and every
// index is yielded exactly once unless the loop breaks.
//
// If the loop breaks early (or panics), the tasks still unfinished are
// canceled with ErrNotNeeded as the cause, and the loop statement returns
// only once they have ended: nothing the sequence started outlives it. If
// ctx ends, the unfinished tasks are canceled with ctx's cause and are
// yielded as they end, with their true outcome: the cause for a task that
// returned it (or never ran), the value and error a task that went on
// returned; a context already done starts nothing and yields every index
// with its cause.
func AsCompleted[T any](ctx context.Context, f Factory, fns ...func(ctx context.Context) (T, error)) iter.Seq2[int, Result[T]] {
	return func(yield func(int, Result[T]) bool) {
		if err := ctx.Err(); err != nil {
			cause := context.Cause(ctx)
			for i := range fns {
				if !yield(i, Result[T]{Err: cause}) {
					return
				}
			}
			return
		}
		tasks, ended, g := submitAll(ctx, f, fns)
		left := len(tasks)
		defer func() {
			if left > 0 {
				cancelAll(tasks, ErrNotNeeded)
				drain(ctx, g, ended, left)
			}
		}()
		wait := ctx
		for left > 0 {
			i, err := recvOrCancel(&wait, g, ended, tasks, left == 1)
			if err != nil {
				continue
			}
			left--
			v, err := tasks[i].Result()
			if !yield(i, Result[T]{Value: v, Err: err}) {
				return
			}
		}
	}
}
