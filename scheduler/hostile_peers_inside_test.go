package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

// Trio/asyncio: a task of a child scope that waits for (or shuts down) an
// ancestor scope, with its own context, is inside that ancestor's subtree:
// the wait must not wait for the task itself.
func TestWaitOnAnAncestorFromInsideAChildsTask(t *testing.T) {
	for _, how := range []string{"parent.Wait", "root.Wait", "s.Wait", "parent.Shutdown", "s.Shutdown"} {
		t.Run(how, func(t *testing.T) {
			s := startScheduler(t, scheduler.WithLimit(4))
			parent, err := s.Root().NewScope(scheduler.WithName("parent"))
			require.NoError(t, err)
			child, err := parent.NewScope(scheduler.WithName("child"))
			require.NoError(t, err)
			sib, err := scheduler.Go(parent, func(ctx context.Context) error { return nil })
			require.NoError(t, err)
			res := make(chan error, 1)
			h, err := scheduler.Go(child, func(ctx context.Context) error {
				wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				defer cancel()
				var err error
				switch how {
				case "parent.Wait":
					err = parent.Wait(wctx)
				case "root.Wait":
					err = s.Root().Wait(wctx)
				case "s.Wait":
					err = s.Wait(wctx)
				case "parent.Shutdown":
					err = parent.Shutdown(wctx)
				case "s.Shutdown":
					err = s.Shutdown(wctx)
				}
				res <- err
				return nil
			})
			require.NoError(t, err)
			require.NoError(t, <-res, "the wait waited for its own caller")
			require.NoError(t, h.Wait(bg))
			require.NoError(t, sib.Wait(bg))
		})
	}
}
