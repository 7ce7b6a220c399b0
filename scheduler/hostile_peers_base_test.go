package scheduler_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// pond: a pool whose context is canceled drops its queued tasks and takes
// no more; here: the base context.
func TestBaseContextCanceledEndsEverything(t *testing.T) {
	base, cancel := context.WithCancelCause(bg)
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(2), scheduler.WithBaseContext(base))
	sc, err := s.Root().NewScope(scheduler.WithLimit(1))
	require.NoError(t, err)
	started := make(chan struct{})
	run, err := scheduler.Go(sc, func(ctx context.Context) error { close(started); <-ctx.Done(); return context.Cause(ctx) })
	require.NoError(t, err)
	<-started
	q1, err := scheduler.Go(sc, func(ctx context.Context) error { return nil })
	require.NoError(t, err)
	q2, err := scheduler.Go(s, func(ctx context.Context) error { return nil })
	require.NoError(t, err)
	lz := scheduler.NewTask(sc, func(ctx context.Context) (int, error) { return 0, nil })
	waited := make(chan error, 1)
	go func() {
		_, err := scheduler.SubmitWait(bg, s, func(ctx context.Context) (int, error) { return 0, nil })
		waited <- err
	}()
	cause := errors.New("pool ctx gone")
	cancel(cause)
	for _, h := range []lazytask.Handle{run, q1, q2, lz} {
		select {
		case <-h.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("%v not ended: %+v", h.State(), s.Stats())
		}
		assert.Equal(t, lazytask.Canceled, h.State())
		assert.ErrorIs(t, h.Err(), cause)
	}
	select {
	case err := <-waited:
		require.Error(t, err)
		assert.True(t, errors.Is(err, scheduler.ErrScopeCanceled) || errors.Is(err, cause), "%v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("SubmitWait hangs")
	}
	_, err = scheduler.Go(sc, func(ctx context.Context) error { return nil })
	assert.ErrorIs(t, err, scheduler.ErrScopeCanceled)
	assert.ErrorIs(t, err, cause)
	require.NoError(t, s.Wait(bg))
	st := s.Stats()
	statsAddUp(t, st, "hostile_peers_base")
	require.NoError(t, s.Shutdown(bg))
}
