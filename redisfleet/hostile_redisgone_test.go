package redisfleet

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// redis-server killed for good with tasks running and queued: the running
// ones lose their leases (their context is canceled with ErrLeaseLost),
// the queued ones wait; Shutdown past its grace cancels them and returns;
// Close then returns within a lease. Nothing hangs, every task ends once.
func TestRedisGoneForGoodWithTasksRunningAndQueued(t *testing.T) {
	srv := startRedis(t)
	const lease = 600 * time.Millisecond
	c := newClientOpts(t, &redis.Options{Addr: srv.addr(), DialTimeout: 200 * time.Millisecond, ReadTimeout: lease})
	l, err := New(c, t.Name(), 2, WithLease(lease), WithRestartGrace(0))
	require.NoError(t, err)
	s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithSharedLimit(l))
	require.NoError(t, err)
	started := make(chan struct{}, 10)
	var hs []*lazytask.Task[int]
	for range 6 {
		h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			started <- struct{}{}
			<-ctx.Done()
			return 0, context.Cause(ctx)
		})
		require.NoError(t, err)
		hs = append(hs, h)
	}
	recv(t, started, "first start")
	recv(t, started, "second start")
	srv.kill()
	for _, h := range hs[:2] {
		_, err := h.Await(context.Background())
		assert.ErrorIs(t, err, limiter.ErrLeaseLost, "a running task's error")
	}
	grace, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(grace) }()
	assert.ErrorIs(t, recv(t, done, "Shutdown"), context.DeadlineExceeded)
	for i, h := range hs[2:] {
		assert.Equal(t, lazytask.Canceled, h.State(), "queued task %d", i)
	}
	closed := make(chan error, 1)
	begin := time.Now()
	go func() { closed <- l.Close() }()
	require.NoError(t, recv(t, closed, "Close"))
	assert.Less(t, time.Since(begin), 2*lease, "Close with Redis gone")
	st := l.Stats()
	assert.Zero(t, st.Waiting)
	assert.Zero(t, st.Permits)
}
