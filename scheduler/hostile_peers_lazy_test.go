package scheduler_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Kotlin: cancel of a LAZY job before start; start afterwards is refused,
// join returns at once, the completion handler ran once.
func TestLazyCanceledBeforeStart(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	sc, err := s.Root().NewScope(scheduler.WithLimit(1))
	require.NoError(t, err)
	var calls, ran atomic.Int32
	h := scheduler.NewTask(sc, func(ctx context.Context) (int, error) { ran.Add(1); return 1, nil })
	h.OnDone(func(int, error) { calls.Add(1) })
	require.Equal(t, 1, s.Stats().Lazy)
	require.True(t, h.Cancel(nil))
	require.False(t, h.Cancel(nil))
	assert.ErrorIs(t, h.Start(), lazytask.ErrStarted)
	assert.ErrorIs(t, s.Force(h), scheduler.ErrNotQueued)
	assert.ErrorIs(t, sc.Enqueue(h), scheduler.ErrNotQueued)
	assert.ErrorIs(t, s.Promote(h), scheduler.ErrNotQueued)
	require.ErrorIs(t, h.Wait(bg), context.Canceled)
	h.OnDone(func(int, error) { calls.Add(1) })
	assert.EqualValues(t, 2, calls.Load())
	assert.Zero(t, ran.Load())
	st := s.Stats()
	assert.Equal(t, 0, st.Lazy)
	statsAddUp(t, st, "hostile_peers_lazy")
	require.NoError(t, sc.Shutdown(bg))
	assert.EqualValues(t, 2, calls.Load())
}

// A lazy task started by Start in a capped scope runs over the cap, counted,
// and the count goes back.
func TestLazyStartRunsOverTheCapCounted(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	in := make(chan struct{})
	out := make(chan struct{})
	h := scheduler.NewTask(s, func(ctx context.Context) (int, error) { close(in); <-out; return 1, nil })
	require.NoError(t, h.Start())
	<-in
	st := s.Stats()
	assert.Equal(t, 1, st.OverCap)
	assert.Equal(t, 2, st.Running)
	assert.True(t, h.Info().OverCap)
	close(out)
	require.NoError(t, h.Wait(bg))
	g.open()
	require.NoError(t, s.Wait(bg))
	st = s.Stats()
	assert.Equal(t, 0, st.OverCap)
	assert.Equal(t, 0, st.InUse)
	assert.EqualValues(t, 1, st.ForceRuns)
	statsAddUp(t, st, "hostile_peers_lazy")
}
