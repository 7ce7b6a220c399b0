package factory

import (
	"context"
	"errors"
	"fmt"

	"github.com/lazysched/lazysched/factory/internal/glue"
	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Map calls fn on every element of in, each call a task of f, at most limit
// of them submitted at a time, and returns the results in the order of in,
// with every error joined in that order (the result of a failed call is
// its zero Out). A call is submitted only when an earlier one has ended, so
// that a long slice costs limit tasks at a time, whatever f's own cap; the
// smaller of the two caps rules. One failure cancels nothing.
//
// limit must be at least 1 (scheduler.ErrInvalidLimit otherwise). If ctx
// ends, Map submits nothing more, cancels the calls in flight with ctx's
// cause, waits for them, and reports that cause as the error of every call
// that did not finish.
func Map[In, Out any](ctx context.Context, f Factory, in []In, limit int, fn func(ctx context.Context, v In) (Out, error)) ([]Out, error) {
	if limit < 1 {
		return nil, fmt.Errorf("%w: Map limit %d", scheduler.ErrInvalidLimit, limit)
	}
	if fn == nil {
		return nil, lazytask.ErrNilFunc
	}
	out := make([]Out, len(in))
	errs := make([]error, len(in))
	tasks := make([]*lazytask.Task[Out], len(in))
	ended := make(chan int, min(limit, len(in)))
	next, inflight := 0, 0
	wait := ctx
	g := core.NewGate(ctx)
	for next < len(in) || inflight > 0 {
		if next < len(in) && inflight < limit {
			if err := ctx.Err(); err == nil {
				v := in[next]
				tasks[next] = submitNotify(ctx, f, g, func(ctx context.Context) (Out, error) { return fn(ctx, v) }, ended, next)
				next++
				inflight++
				continue
			}
			for ; next < len(in); next++ {
				errs[next] = context.Cause(ctx)
			}
			continue
		}
		i, err := glue.RecvOn(wait, g, ended, inflight == 1 && next == len(in))
		if err != nil {
			cancelAll(tasks[:next], err)
			wait = context.WithoutCancel(ctx)
			continue
		}
		inflight--
		out[i], errs[i] = tasks[i].Result()
		tasks[i] = nil
	}
	return out, errors.Join(errs...)
}
