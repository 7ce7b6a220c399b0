package redisfleet

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// A promoted light task of one priority with the heavy head's request
// waiting in Redis's line (3 of 4 slots free): it takes the request over
// and runs at once (e111515, across a fleet); the heavy one asks again and
// runs once the other holder lets go; nothing is left in Redis.
func TestHVPromotedLightTaskTakesTheFleetRequestOver(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	other := newLimit(t, srv.client(), name, 4, WithRestartGrace(0))
	held := make(chan grant, 1)
	ask(other, "other", 0, held)
	g := recv(t, held, "the other process's permit")
	require.NoError(t, g.err)

	ev := events()
	l := newLimit(t, srv.client(), name, 4, WithRestartGrace(0), withHook(ev))
	s, err := scheduler.New(scheduler.WithLimit(8))
	require.NoError(t, err)
	top, err := s.Root().NewScope(scheduler.WithSharedLimit(l))
	require.NoError(t, err)
	x, err := top.NewScope(scheduler.WithName("x"))
	require.NoError(t, err)
	y, err := top.NewScope(scheduler.WithName("y"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	heavy, err := scheduler.Submit(x, func(context.Context) (int, error) { return 4, nil }, lazytask.WithWeight(4))
	require.NoError(t, err)
	waitEvent(t, ev, evQueued, 0)
	light, err := scheduler.Submit(y, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	require.Equal(t, lazytask.Queued, light.State())
	require.NoError(t, s.Promote(light))
	select {
	case <-light.Done():
	case <-ctx.Done():
		t.Fatal("the promoted task did not run with 3 of 4 fleet slots free")
	}
	assert.Equal(t, lazytask.Queued, heavy.State())
	g.p.Release()
	v, err := heavy.Await(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, v)
	require.NoError(t, s.Shutdown(ctx))
	h, w := fleetKeys(t, srv.client(), name)
	assert.Zero(t, h, "holders left")
	assert.Zero(t, w, "waiters left")
}

// A refused request (fail mode, Redis down) fails its task; the done
// callback, registered while the task was queued, runs once on the
// give-up's own goroutine and calls Shutdown, which returns; the task
// queued behind it fails too, and Shutdown from outside returns.
func TestHVFailFastGiveUpCallbackCallsShutdown(t *testing.T) {
	needRedis(t)
	c := deadClient(t, "127.0.0.1:"+itoa(freePort(t)))
	l := newLimit(t, c, t.Name(), 2, WithFailFast())
	s, err := scheduler.New(scheduler.WithLimit(1))
	require.NoError(t, err)
	top, err := s.Root().NewScope(scheduler.WithSharedLimit(l))
	require.NoError(t, err)
	gate, started := make(chan struct{}), make(chan struct{})
	a, err := scheduler.Submit(s, func(context.Context) (int, error) { close(started); <-gate; return 0, nil })
	require.NoError(t, err)
	<-started
	h, err := scheduler.Submit(top, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	res := make(chan error, 2)
	h.OnDone(func(_ int, err error) {
		res <- err
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		res <- s.Shutdown(ctx)
	})
	close(gate) // a ends: h is admitted as far as the local caps go, and asks
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err = a.Await(ctx)
	require.NoError(t, err)
	for i := range 2 {
		select {
		case err := <-res:
			if i == 0 {
				require.ErrorIs(t, err, limiter.ErrSharedUnavailable, "the task's error")
			} else {
				require.NoError(t, err, "Shutdown from the callback")
			}
		case <-ctx.Done():
			t.Fatalf("the give-up's callback: step %d never came", i)
		}
	}
	require.ErrorIs(t, s.Shutdown(ctx), scheduler.ErrClosed)
	assert.Empty(t, res, "the callback ran twice")
}
