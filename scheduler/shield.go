package scheduler

import (
	"context"
	"time"

	"github.com/lazysched/lazysched/lazytask"
)

// Shield runs cleanup code that must not be cut short by the cancellation
// that made it necessary: fn gets a context with ctx's values but not its
// cancellation (context.WithoutCancel), bounded by its own timeout (none if
// timeout <= 0). Use it in a task that is being canceled, to flush, close
// or roll back before returning.
//
// A nil ctx stands for context.Background(): fn then gets a context with
// no values, bounded by the timeout alone. A nil fn returns
// lazytask.ErrNilFunc and runs nothing.
func Shield(ctx context.Context, timeout time.Duration, fn func(ctx context.Context) error) error {
	if fn == nil {
		return lazytask.ErrNilFunc
	}
	if ctx == nil {
		ctx = context.Background()
	}
	sctx := context.WithoutCancel(ctx)
	if timeout > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(sctx, timeout)
		defer cancel()
	}
	return fn(sctx)
}
