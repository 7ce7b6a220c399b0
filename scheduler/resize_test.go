package scheduler_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func TestResizeUpAdmitsWaitingTasksAtOnce(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	_, holder := hold(t, s)
	gates := make([]*gate, 3)
	for i := range gates {
		gates[i] = newGate(t)
		h, err := scheduler.Submit(s, gates[i].fn)
		require.NoError(t, err)
		require.Equal(t, lazytask.Queued, h.State())
	}
	require.NoError(t, s.Resize(4), "Resize(4)")
	for _, g := range gates {
		<-g.started // all three run while the holder still holds its slot
	}
	st := s.Stats()
	assert.Equal(t, 4, st.Limit, "Stats().Limit")
	assert.Equal(t, 4, st.InUse, "Stats().InUse")
	assert.Zero(t, st.OverCap, "Stats().OverCap")
	assert.Zero(t, st.Queued, "Stats().Queued")
	holder.open()
	for _, g := range gates {
		g.open()
	}
}

func TestResizeDownLetsHoldersFinishAndThenHoldsTheNewCap(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(4))
	holders := make([]*lazytask.Task[int], 4)
	gates := make([]*gate, 4)
	for i := range holders {
		holders[i], gates[i] = hold(t, s)
	}
	var p peak
	queued := make([]*lazytask.Task[int], 8)
	for i := range queued {
		h, err := scheduler.Submit(s, func(context.Context) (int, error) {
			p.enter(1)
			defer p.leave(1)
			return i, nil
		})
		require.NoError(t, err)
		queued[i] = h
	}
	require.NoError(t, s.Resize(2), "Resize(2)")
	for i, h := range holders {
		assert.Equal(t, lazytask.Running, h.State(), "holder %d State() after Resize down", i)
	}
	st := s.Stats()
	assert.Equal(t, 2, st.Limit, "Stats().Limit")
	assert.Equal(t, 4, st.InUse, "Stats().InUse (holders keep their slots)")
	assert.Equal(t, 8, st.Queued, "Stats().Queued")

	gates[0].open()
	_, _ = holders[0].Await(bg)
	// 3 slots in use, cap 2: nothing may be admitted yet.
	assert.Equal(t, 8, s.Stats().Queued, "Stats().Queued with 3 in use over a cap of 2")
	for _, g := range gates[1:] {
		g.open()
	}
	require.NoError(t, s.Wait(bg))
	for i, h := range holders {
		if _, err := h.Await(bg); err != nil {
			t.Errorf("holder %d Await = %v; want nil", i, err)
		}
	}
	if got := p.max.Load(); got > 2 {
		t.Errorf("peak running after Resize(2) = %d; want <= 2", got)
	}
	assert.Zero(t, s.Stats().InUse, "Stats().InUse at the end")
}

func TestResizeBelowOneIsErrInvalidLimit(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(3))
	for _, n := range []int{0, -5} {
		if err := s.Resize(n); !errors.Is(err, scheduler.ErrInvalidLimit) {
			t.Errorf("Resize(%d) = %v; want ErrInvalidLimit", n, err)
		}
	}
	assert.Equal(t, 3, s.Stats().Limit, "Stats().Limit after refused resizes")
}
