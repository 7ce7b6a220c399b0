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

// pond's Resize on a pool made with no limit (NewPool(0)): the new limit
// bounds the workers from then on. An Unlimited scheduler resized to n
// counts the tasks already running against n: no task starts until fewer
// than n run, and the cap then holds.
func TestPeersResizeOfAnUnlimitedScheduler(t *testing.T) {
	s := startScheduler(t, scheduler.Unlimited())
	release := make(chan struct{})
	var cur, over atomic.Int32
	limit := atomic.Int32{}
	limit.Store(1 << 30)
	started := make(chan struct{}, 100)
	body := func(ctx context.Context) (int, error) {
		if n := cur.Add(1); n > limit.Load() {
			over.Add(1)
		}
		started <- struct{}{}
		<-release
		cur.Add(-1)
		return 0, nil
	}
	var hs []*lazytask.Task[int]
	for range 10 {
		h, err := scheduler.Submit(s, body)
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for range 10 {
		<-started
	}
	limit.Store(3)
	err := s.Resize(3)
	require.NoError(t, err, "Resize(3) of an Unlimited scheduler")
	st := s.Stats()
	t.Logf("after Resize(3): %+v", st)
	for range 5 {
		h, err := scheduler.Submit(s, body)
		require.NoError(t, err)
		hs = append(hs, h)
	}
	st = s.Stats()
	assert.Equal(t, 10, st.Running, "Running after Resize(3) and 5 more submits: %+v", st)
	assert.Equal(t, 5, st.Queued, "Queued after Resize(3) and 5 more submits: %+v", st)
	close(release)
	for _, h := range hs {
		_, err := h.Await(bg)
		require.NoError(t, err)
	}
	assert.Equal(t, int32(0), over.Load(), "tasks started while %d or more ran after Resize(3)", 3)
	st = s.Stats()
	statsAddUp(t, st, "idle")
	assert.Equal(t, 0, st.InUse, "InUse once idle: %+v", st)
	assert.Equal(t, 3, st.Limit)
	assert.False(t, st.Unlimited)
}

// pond's subpool has its own limit from the start; a lazysched scope may get
// one later: Scope.Resize on a scope with no cap of its own counts its tasks
// already running against the new cap.
func TestPeersResizeOfAnUncappedScope(t *testing.T) {
	for _, where := range []string{"scope", "grandchild", "capped grandchild"} {
		t.Run(where, func(t *testing.T) { hoResizeUncapped(t, where) })
	}
}

func hoResizeUncapped(t *testing.T, where string) {
	s := startScheduler(t, scheduler.WithLimit(10))
	top, err := s.Root().NewScope()
	require.NoError(t, err)
	sc := top
	switch where {
	case "grandchild":
		sc, err = top.NewScope()
		require.NoError(t, err)
	case "capped grandchild":
		sc, err = top.NewScope(scheduler.WithLimit(8))
		require.NoError(t, err)
	}
	release := make(chan struct{})
	var cur, over atomic.Int32
	limit := atomic.Int32{}
	limit.Store(1 << 30)
	started := make(chan struct{}, 100)
	body := func(ctx context.Context) (int, error) {
		if n := cur.Add(1); n > limit.Load() {
			over.Add(1)
		}
		started <- struct{}{}
		<-release
		cur.Add(-1)
		return 0, nil
	}
	var hs []*lazytask.Task[int]
	for range 5 {
		h, err := scheduler.Submit(sc, body)
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for range 5 {
		<-started
	}
	limit.Store(2)
	err = top.Resize(2)
	if err != nil {
		t.Logf("Resize(2) of an uncapped scope = %v", err)
		close(release)
		return
	}
	for range 3 {
		h, err := scheduler.Submit(sc, body)
		require.NoError(t, err)
		hs = append(hs, h)
	}
	st := s.Stats()
	assert.Equal(t, 5, st.Running, "Running after sc.Resize(2) and 3 more submits: %+v", st)
	assert.Equal(t, 3, st.Queued, "Queued after sc.Resize(2) and 3 more submits: %+v", st)
	close(release)
	for _, h := range hs {
		_, err := h.Await(bg)
		require.NoError(t, err)
	}
	assert.Equal(t, int32(0), over.Load(), "tasks started in the scope while 2 or more of its tasks ran after Resize(2)")
	statsAddUp(t, s.Stats(), "idle")
}
