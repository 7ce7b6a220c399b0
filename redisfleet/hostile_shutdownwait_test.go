package redisfleet

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Shutdown of a scheduler whose queued tasks wait for fleet permits held by
// another process: once the grace ends they end Canceled, Shutdown returns
// the grace's cause, and this Limit leaves nothing in Redis (no waiting
// entry, no permit), so the other process's next request is granted.
// Then, a task canceled while it waits for a permit ends Canceled, leaks no
// permit, and its Redis entry goes.
func TestShutdownWithTasksWaitingForFleetPermits(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	admin := srv.client()
	other := newLimit(t, srv.client(), name, 2, WithRestartGrace(0))
	held := make(chan grant, 4)
	ask(other, "o1", 0, held)
	ask(other, "o2", 0, held)
	o1, o2 := recv(t, held, "o1"), recv(t, held, "o2")
	require.NoError(t, o1.err)
	require.NoError(t, o2.err)

	ev := events()
	l := newLimit(t, srv.client(), name, 2, WithRestartGrace(0), withHook(ev))
	s, err := scheduler.New(scheduler.WithLimit(8), scheduler.WithSharedLimit(l))
	require.NoError(t, err)
	var hs []*lazytask.Task[int]
	for i := range 5 {
		h, err := scheduler.Submit(s, func(context.Context) (int, error) { return i, nil })
		require.NoError(t, err)
		hs = append(hs, h)
	}
	waitEvent(t, ev, evQueued, 0)

	// One canceled while it waits (the head, whose request is in Redis).
	require.True(t, hs[0].Cancel(context.Canceled))
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err = hs[0].Await(ctx)
	require.Error(t, err)
	assert.Equal(t, lazytask.Canceled, hs[0].State())

	grace, cancelGrace := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelGrace()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(grace) }()
	select {
	case err = <-done:
	case <-time.After(waitFor):
		t.Fatal("Shutdown hung with tasks waiting for fleet permits")
	}
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Shutdown past its grace")
	for i, h := range hs {
		assert.Equal(t, lazytask.Canceled, h.State(), "task %d", i)
	}
	st := l.Stats()
	assert.Zero(t, st.Waiting, "Stats().Waiting after Shutdown")
	assert.Zero(t, st.Permits, "Stats().Permits after Shutdown")

	// The withdrawals reach Redis: the other process gets a third permit
	// once it gives one back, and no entry of l's stays in the line.
	o1.p.Release()
	ask(other, "o3", 0, held)
	o3 := recv(t, held, "o3, after Shutdown")
	require.NoError(t, o3.err)
	require.Eventually(t, func() bool {
		h, w := fleetKeys(t, admin, name)
		return h == 2 && w == 0
	}, waitFor, 10*time.Millisecond, "Redis keeps only the other process's two permits")
	o2.p.Release()
	o3.p.Release()
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close twice")
	require.NoError(t, other.Close())
	h, w := fleetKeys(t, admin, name)
	assert.Zero(t, h, "holders after both Close")
	assert.Zero(t, w, "waiters after both Close")
}
