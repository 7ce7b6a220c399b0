package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// hpLiar is a context that breaks the context contract: its Done closes
// while its Err still reports nil (a custom Context that overrides Done,
// say). A wait that ends on its Done must still report an error, never nil
// as if what it waited for had happened.
type hpLiar struct {
	context.Context
	done chan struct{}
}

func newHPLiar() *hpLiar { return &hpLiar{Context: context.Background(), done: make(chan struct{})} }

func (l *hpLiar) Done() <-chan struct{} { return l.done }

// A SubmitWait that waits for room with a lying context, which then ends,
// must not return a nil error with a task that is neither queued nor
// ended: that handle would stay Lazy forever, lost to the scheduler and
// hanging every awaiter.
func TestHostileHPSubmitWaitLyingContextLosesNoTask(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
	_, g := hold(t, s)
	_, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { return 0, nil })
	require.NoError(t, err)
	liar := newHPLiar()
	type res struct {
		h   *lazytask.Task[int]
		err error
	}
	out := make(chan res, 1)
	go func() {
		h, err := scheduler.SubmitWait(liar, s, func(ctx context.Context) (int, error) { return 1, nil })
		out <- res{h, err}
	}()
	// SubmitWait waits for room; end its context.
	waitUntil(t, func() bool { return s.Stats().Queued == 1 })
	close(liar.done)
	var r res
	select {
	case r = <-out:
	case <-time.After(10 * time.Second):
		g.open()
		t.Fatal("SubmitWait hung")
	}
	g.open()
	if r.err == nil {
		// Then it must have been queued, and must end.
		select {
		case <-r.h.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("SubmitWait returned nil, but its task stays %v forever", r.h.State())
		}
	} else {
		require.True(t, r.h.State().Terminal(), "SubmitWait returned %v with its task %v", r.err, r.h.State())
	}
}

// Await with a lying context that ends before the task must not return a
// nil error with the zero value, as if the task had succeeded.
func TestHostileHPAwaitLyingContextReportsAnError(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	h, g := hold(t, s)
	defer g.open()
	liar := newHPLiar()
	close(liar.done)
	_, err := h.Await(liar)
	t.Logf("await err %v", err)
	require.Error(t, err, "Await returned nil for a task that is %v", h.State())
	require.Equal(t, lazytask.Running, h.State())
}

// Scope.Wait with a lying context that ends before the scope's tasks must
// not report nil, as if they had all ended.
func TestHostileHPScopeWaitLyingContextReportsAnError(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	h, g := hold(t, s)
	defer g.open()
	liar := newHPLiar()
	close(liar.done)
	err := s.Wait(liar)
	require.Error(t, err, "Wait returned nil with a task %v", h.State())
}

// Shutdown with a lying context whose grace period ends must still cancel
// what remains and wait for it (I5): it must not return with a task still
// running, as if the grace period had seen everything finish.
func TestHostileHPShutdownLyingContextLeavesNothingRunning(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	started := make(chan struct{})
	h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		return 0, ctx.Err()
	})
	require.NoError(t, err)
	<-started
	liar := newHPLiar()
	close(liar.done)
	errc := make(chan error, 1)
	go func() { errc <- s.Shutdown(liar) }()
	select {
	case err = <-errc:
	case <-time.After(10 * time.Second):
		h.Cancel(nil)
		t.Fatal("Shutdown hung")
	}
	st := h.State()
	h.Cancel(nil) // let the cleanup's Shutdown end
	require.True(t, st.Terminal(), "Shutdown returned %v with its task %v", err, st)
	require.Error(t, err)
}
