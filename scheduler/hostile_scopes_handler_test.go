package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A supervisor's handler that blocks holds up that supervisor alone: the
// ScopeError of a fail-fast child of another, unrelated supervisor reaches
// that one's handler meanwhile. Here S1's handler waits for S2's to have
// run; the two reports were decided while T1's done callback ran, so one
// goroutine's flush took both, S1's first, and S2's handler waited behind
// S1's for ever.
func TestHostileScopeBlockingHandlerDoesNotHoldUpAnotherSupervisor(t *testing.T) {
	s := hsSched(t)
	s2called := make(chan struct{})
	s1 := hsScope(t, s.Root(), scheduler.Supervise(func(lazytask.Info, error) {
		select {
		case <-s2called:
		case <-time.After(hsHang):
		}
	}))
	s2 := hsScope(t, s.Root(), scheduler.Supervise(func(lazytask.Info, error) { close(s2called) }))
	f1 := hsScope(t, s1, scheduler.FailFast())
	f2 := hsScope(t, s2, scheduler.FailFast())

	t2 := scheduler.NewTask(f2, func(context.Context) (int, error) { return 0, hsErrB })
	t1 := scheduler.NewTask(f1, func(context.Context) (int, error) { return 0, hsErrA })
	// T1's end decides S1's report; its done callback then lets T2 fail,
	// which decides S2's, before T1's goroutine flushes the reports.
	t1.OnDone(func(int, error) {
		require.NoError(t, f2.Enqueue(t2))
		<-t2.Done()
	})
	require.NoError(t, f1.Enqueue(t1))
	select {
	case <-s2called:
	case <-time.After(hsHang / 2):
		t.Fatal("S2's handler was not called while S1's blocked")
	}
}
