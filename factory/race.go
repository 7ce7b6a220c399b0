package factory

import (
	"context"
	"errors"

	"github.com/lazysched/lazysched/factory/internal/glue"
)

// Race runs every fn as a task of f and returns the value of the first one
// to succeed. Once a winner is known the other tasks are canceled with
// ErrNotNeeded as the cause, and Race waits for them to end before it
// returns, so that nothing it started outlives it.
//
// If every task fails, Race returns the zero T and every error joined, in
// the order of fns. If ctx ends first, it cancels the tasks with ctx's
// cause, waits for them, and returns that cause; a context already done
// starts nothing. Race with no fn returns ErrNoFuncs.
func Race[T any](ctx context.Context, f Factory, fns ...func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	if len(fns) == 0 {
		return zero, ErrNoFuncs
	}
	if err := ctx.Err(); err != nil {
		return zero, context.Cause(ctx)
	}
	tasks, ended, g := submitAll(ctx, f, fns)
	errs := make([]error, len(tasks))
	for left := len(tasks); left > 0; left-- {
		i, err := glue.RecvOn(ctx, g, ended, left == 1)
		if err != nil {
			cancelAll(tasks, err)
			drain(ctx, g, ended, left)
			return zero, err
		}
		v, err := tasks[i].Result()
		if err == nil {
			cancelAll(tasks, ErrNotNeeded)
			drain(ctx, g, ended, left-1)
			return v, nil
		}
		errs[i] = err
	}
	return zero, errors.Join(errs...)
}
