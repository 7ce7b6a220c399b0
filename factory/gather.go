package factory

import (
	"context"
	"errors"

	"github.com/lazysched/lazysched/factory/internal/glue"
)

// Gather runs every fn as a task of f, waits for all of them, and returns
// their values in the order of fns, with every error joined (in that order
// too); the value of a failed task is its zero T. One failure cancels
// nothing: give Gather a fail-fast scope for that.
//
// If ctx ends first, Gather cancels the tasks still unfinished with ctx's
// cause and waits for them. Each keeps its true outcome: a task canceled
// before it ran ends with that cause; a running one ends with what it
// returns, so one that ignores its cancellation and returns a value keeps
// it (then Gather may return nil although ctx ended). A context already
// done starts nothing and returns its cause.
func Gather[T any](ctx context.Context, f Factory, fns ...func(ctx context.Context) (T, error)) ([]T, error) {
	if err := ctx.Err(); err != nil {
		return make([]T, len(fns)), context.Cause(ctx)
	}
	tasks, ended, g := submitAll(ctx, f, fns)
	for left := len(tasks); left > 0; left-- {
		if _, err := glue.RecvOn(ctx, g, ended, left == 1); err != nil {
			cancelAll(tasks, err)
			drain(ctx, g, ended, left)
			break
		}
	}
	vals := make([]T, len(tasks))
	errs := make([]error, len(tasks))
	for i, t := range tasks {
		vals[i], errs[i] = t.Result()
	}
	return vals, errors.Join(errs...)
}
