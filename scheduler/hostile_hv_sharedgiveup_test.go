package scheduler_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// A shared limit's give-up runs the failed task's callbacks on a goroutine
// of their own (goTracked). Shutdown must wait for that goroutine: no
// OnDone runs after Shutdown returns. The callback is held until Shutdown
// has had its chance to return early; it runs exactly once.
func TestHostileHVSharedGiveUpShutdownWaitsForTheCallback(t *testing.T) {
	l, err := limiter.NewLocal(1)
	require.NoError(t, err)
	s, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithLogger(hsQuietLog))
	require.NoError(t, err)
	top := hsScope(t, s.Root(), scheduler.WithSharedLimit(l))
	entered, gate := make(chan struct{}), make(chan struct{})
	var calls, finished atomic.Int32
	a, g := hold(t, s.Root(), lazytask.WithWeight(2)) // heavy queues, callback first
	heavy, err := scheduler.Submit(top, func(context.Context) (int, error) { return 0, nil }, lazytask.WithWeight(2))
	require.NoError(t, err)
	heavy.OnDone(func(int, error) {
		if calls.Add(1) == 1 {
			close(entered)
		}
		<-gate
		finished.Add(1)
	})
	g.open()
	_, err = hsAwait(t, a)
	require.NoError(t, err)
	hsWithin(t, entered, "heavy's done callback runs")
	require.ErrorIs(t, heavy.Err(), limiter.ErrWeightTooLarge)
	sdone := make(chan error, 1)
	go func() { sdone <- s.Shutdown(context.Background()) }()
	select {
	case err := <-sdone:
		t.Fatalf("Shutdown returned (%v) while the give-up's callback still runs", err)
	case <-time.After(50 * time.Millisecond): // only lets a bug show; never fails a good run
	}
	close(gate)
	select {
	case err := <-sdone:
		require.NoError(t, err)
	case <-time.After(hsHang):
		t.Fatal("Shutdown still waits after the callback returned")
	}
	require.EqualValues(t, 1, calls.Load(), "the callback ran more than once")
	require.EqualValues(t, 1, finished.Load(), "Shutdown returned before the callback ended")
}

// A Shutdown called from the give-up's callback (on the goroutine of its
// own) does not wait for that goroutine: it returns, and so does a second
// Shutdown from outside.
func TestHostileHVSharedGiveUpShutdownFromTheCallback(t *testing.T) {
	l, err := limiter.NewLocal(1)
	require.NoError(t, err)
	s, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithLogger(hsQuietLog))
	require.NoError(t, err)
	top := hsScope(t, s.Root(), scheduler.WithSharedLimit(l))
	// a running task of another scope, so that Shutdown has something to
	// wait for and the give-up happens on a goroutine that let the lock go
	a, g := hold(t, s.Root(), lazytask.WithWeight(2))
	heavy, err := scheduler.Submit(top, func(context.Context) (int, error) { return 0, nil }, lazytask.WithWeight(2))
	require.NoError(t, err)
	next, err := scheduler.Submit(top, func(context.Context) (int, error) { return 3, nil })
	require.NoError(t, err)
	res := make(chan error, 1)
	var calls atomic.Int32
	heavy.OnDone(func(int, error) {
		calls.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), hsHang)
		defer cancel()
		res <- s.Shutdown(ctx)
	})
	g.open() // a ends: heavy's request is refused
	select {
	case err := <-res:
		require.NoError(t, err, "Shutdown from the give-up's callback")
	case <-time.After(2 * hsHang):
		t.Fatal("Shutdown from the give-up's callback waits for its own goroutine")
	}
	_, err = hsAwait(t, a)
	require.NoError(t, err)
	v, err := hsAwait(t, next)
	require.NoError(t, err)
	require.Equal(t, 3, v)
	ctx, cancel := context.WithTimeout(context.Background(), hsHang)
	defer cancel()
	require.ErrorIs(t, s.Shutdown(ctx), scheduler.ErrClosed)
	require.EqualValues(t, 1, calls.Load())
}
