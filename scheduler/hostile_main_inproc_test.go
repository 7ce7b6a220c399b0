package scheduler_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lazysched/lazysched/scheduler"
)

// Without a signal Main leaves no goroutine behind, with tasks left when fn
// returns, and reports a fail-fast root's error as ExitFailed.
func TestHostileMainNoSignalLeavesNothing(t *testing.T) {
	defer goleak.VerifyNone(t)
	gate := make(chan struct{})
	code := scheduler.Main(func(ctx context.Context, s *scheduler.Scheduler) error {
		for range 10 {
			if _, err := scheduler.Go(s, func(context.Context) error { <-gate; return nil }); err != nil {
				return err
			}
		}
		close(gate)
		return nil
	}, time.Minute, scheduler.WithLimit(2))
	require.Equal(t, scheduler.ExitOK, code)
	code = scheduler.Main(func(ctx context.Context, s *scheduler.Scheduler) error {
		_, err := scheduler.Go(s, func(context.Context) error { return errors.New("boom") })
		return err
	}, time.Minute, scheduler.FailFast())
	require.Equal(t, scheduler.ExitFailed, code)
}
