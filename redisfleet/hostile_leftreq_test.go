package redisfleet

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A fleet of cap 4 with 1 slot held elsewhere. A scheduler's head task
// needs 4 and waits in Redis; a task of weight 1 queues behind it. The
// heavy task is canceled: the light one fits in the 3 free slots and must
// start, as it would under a local cap. The scheduler kept the request
// for 4 that it made for the canceled task (it had tasks queued still), so
// the light task waited behind it, and so did the whole fleet (the request
// heads Redis's line), until the other holder let go.
func TestCanceledHeavyHeadDoesNotHoldUpTheLightTaskBehindIt(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	other := newLimit(t, srv.client(), name, 4, WithRestartGrace(0))
	held := make(chan grant, 1)
	ask(other, "other", 0, held)
	g := recv(t, held, "the other process's permit")
	require.NoError(t, g.err)
	defer g.p.Release()

	ev := events()
	l := newLimit(t, srv.client(), name, 4, WithRestartGrace(0), withHook(ev))
	s, err := scheduler.New(scheduler.WithLimit(8), scheduler.WithSharedLimit(l))
	require.NoError(t, err)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		assert.NoError(t, s.Shutdown(ctx))
	}()

	heavy, err := scheduler.Submit(s, func(context.Context) (int, error) { return 4, nil }, lazytask.WithWeight(4))
	require.NoError(t, err)
	waitEvent(t, ev, evQueued, 0) // the request for 4 waits in Redis
	ran := make(chan struct{})
	light, err := scheduler.Submit(s, func(context.Context) (int, error) { close(ran); return 1, nil })
	require.NoError(t, err)

	heavy.Cancel(errors.New("not needed"))
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err = heavy.Await(ctx)
	require.Error(t, err)
	assert.Equal(t, lazytask.Canceled, heavy.State())

	select {
	case <-ran:
	case <-ctx.Done():
		st := l.Stats()
		t.Fatalf("the light task did not start with 3 of 4 fleet slots free (this Limit: %d waiting, %d held)", st.Waiting, st.Held)
	}
	v, err := light.Await(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, v)
}

// The same across the fleet, with the heavy task still queued: an urgent
// light task (higher priority) comes to the head; it must run in the 3
// free slots, not wait until 4 are free for the heavy task's request.
func TestUrgentLightTaskDoesNotWaitForTheHeavyRequestAhead(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	other := newLimit(t, srv.client(), name, 4, WithRestartGrace(0))
	held := make(chan grant, 1)
	ask(other, "other", 0, held)
	g := recv(t, held, "the other process's permit")
	require.NoError(t, g.err)

	ev := events()
	l := newLimit(t, srv.client(), name, 4, WithRestartGrace(0), withHook(ev))
	s, err := scheduler.New(scheduler.WithLimit(8), scheduler.WithSharedLimit(l))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	heavy, err := scheduler.Submit(s, func(context.Context) (int, error) { return 4, nil }, lazytask.WithWeight(4))
	require.NoError(t, err)
	waitEvent(t, ev, evQueued, 0)
	urgent, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil }, lazytask.WithPriority(10))
	require.NoError(t, err)
	select {
	case <-urgent.Done():
	case <-ctx.Done():
		t.Fatal("the urgent task did not run with 3 of 4 fleet slots free")
	}
	g.p.Release()
	v, err := heavy.Await(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, v)
	require.NoError(t, s.Shutdown(ctx))
	h, w := fleetKeys(t, srv.client(), name)
	assert.Zero(t, h, "holders left")
	assert.Zero(t, w, "waiters left")
}
