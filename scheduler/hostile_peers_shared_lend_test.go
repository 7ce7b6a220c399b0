package scheduler_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// I9 on a shared cap: a task that awaits a task it submitted to its own
// scope, at a shared limit of 1. It waits for ever: the waiting task lends
// its local slot but keeps its permit (a known limitation, documented
// under WithSharedLimit; lending the permit too is not built).
func TestSharedNestedAwaitAtSharedCapOne(t *testing.T) {
	if os.Getenv("LAZYSCHED_KNOWN") == "" {
		t.Skip("known limitation, documented under WithSharedLimit: the waiting task keeps its permit (set LAZYSCHED_KNOWN=1 to run)")
	}
	l, err := limiter.NewLocal(1)
	require.NoError(t, err)
	s := startScheduler(t, scheduler.WithLimit(4), scheduler.WithSharedLimit(l))
	ctx, cancel := context.WithTimeout(bg, 3*time.Second)
	defer cancel()
	outer, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		in, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { return 2, nil })
		if err != nil {
			return 0, err
		}
		return in.Await(ctx)
	})
	require.NoError(t, err)
	v, err := outer.Await(ctx)
	if err != nil {
		st := s.Stats()
		outer.Cancel(nil) // let the cleanup's Shutdown end
		t.Fatalf("nested await at a shared cap of 1 hangs: %v %+v", err, st)
	}
	require.Equal(t, 2, v)
}
