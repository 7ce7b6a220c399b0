package scheduler

import (
	"context"
	"time"
)

// Shield runs cleanup code that must not be cut short by the cancellation
// that made it necessary: fn gets a context with ctx's values but not its
// cancellation (context.WithoutCancel), bounded by its own timeout (none if
// timeout <= 0). Use it in a task that is being canceled, to flush, close
// or roll back before returning.
func Shield(ctx context.Context, timeout time.Duration, fn func(ctx context.Context) error) error {
	sctx := context.WithoutCancel(ctx)
	if timeout > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(sctx, timeout)
		defer cancel()
	}
	return fn(sctx)
}
