package errgroup_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/scheduler"
)

// x/sync's Go never looks at the context: with the context given to
// WithContext canceled, or the group's context canceled by a first error,
// every function given to Go still runs, and Wait returns the first
// function error (nil if none), not the cancellation.
func TestHostileCanceledContextStillRunsEveryFunction(t *testing.T) {
	for _, mode := range []string{"with", "in"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(bg)
			cancel(errors.New("gone"))
			var g *errgroup.Group
			if mode == "in" {
				g, _ = errgroup.In(ctx, newScheduler(t, scheduler.WithLimit(2)))
			} else {
				g, _ = errgroup.WithContext(ctx)
			}
			g.SetLimit(1)
			var ran atomic.Int32
			for range 5 {
				g.Go(func() error { ran.Add(1); return nil })
			}
			assert.NoError(t, waitBounded(t, g), "Wait with a canceled parent")
			assert.Equal(t, int32(5), ran.Load(), "functions run")
		})
	}
}
