package redisfleet

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// A task heavier than the fleet's limit ends Failed with ErrWeightTooLarge
// (answered inside Acquire) and the task behind it runs; Close from four
// goroutines at once, and again once Redis is gone, returns nil.
func TestTooHeavyForTheFleetFailsTheTaskAndCloseTwice(t *testing.T) {
	srv := startRedis(t)
	l := newLimit(t, srv.client(), t.Name(), 2, WithRestartGrace(0))
	s, err := scheduler.New(scheduler.WithLimit(8), scheduler.WithSharedLimit(l))
	require.NoError(t, err)
	h, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil }, lazytask.WithWeight(3))
	require.NoError(t, err)
	h2, err := scheduler.Submit(s, func(context.Context) (int, error) { return 2, nil })
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err = h.Await(ctx)
	assert.ErrorIs(t, err, limiter.ErrWeightTooLarge)
	assert.Equal(t, lazytask.Failed, h.State())
	v, err := h2.Await(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, v)
	require.NoError(t, s.Shutdown(ctx))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { assert.NoError(t, l.Close()) })
	}
	wg.Wait()
	srv.kill()
	require.NoError(t, l.Close())
}

// Close with Redis dead, a permit held and requests waiting (one sent to
// Redis before it died, one after): both get ErrClosed, and no goroutine
// is left (goleak at TestMain).
func TestCloseWithRedisDeadAnswersEveryRequest(t *testing.T) {
	srv := startRedis(t)
	c := srv.client()
	l, err := New(c, t.Name(), 1, WithRestartGrace(0))
	require.NoError(t, err)
	got := make(chan grant, 4)
	ask(l, "a", 0, got)
	a := recv(t, got, "a")
	require.NoError(t, a.err)
	ask(l, "b", 0, got)
	srv.kill()
	ask(l, "c", 0, got)
	require.NoError(t, l.Close())
	b, cc := recv(t, got, "b"), recv(t, got, "c")
	assert.ErrorIs(t, b.err, ErrClosed)
	assert.ErrorIs(t, cc.err, ErrClosed)
	a.p.Release()
	require.NoError(t, c.Close())
}
