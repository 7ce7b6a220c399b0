package redisfleet

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Three schedulers share one fleet cap of weighted slots; tasks of random
// weights and priorities, some canceled while they wait, and redis-server
// killed and restarted (no keys) while tasks run and wait. The slots
// running across the three never pass the cap; every task ends, once, as
// Done or Canceled (or Failed with a lost lease); Redis holds nothing at
// the end.
func TestThreeSchedulersWeightedCancelsAndARestart(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	const (
		limit = 5
		lease = time.Second
		per   = 24
	)
	var running, peak, ran atomic.Int64
	tenth := make(chan struct{})
	fn := func(w int64, hold time.Duration) func(context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			n := running.Add(w)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			defer running.Add(-w)
			if ran.Add(1) == 10 {
				close(tenth)
			}
			select {
			case <-time.After(hold): // the task's work
				return int(w), nil
			case <-ctx.Done():
				return 0, context.Cause(ctx)
			}
		}
	}
	var lims []*Limit
	var scheds []*scheduler.Scheduler
	var hs []*lazytask.Task[int]
	r := rand.New(rand.NewPCG(1, 2))
	for range 3 {
		c := newClientOpts(t, &redis.Options{Addr: srv.addr(), DialTimeout: 200 * time.Millisecond, ReadTimeout: lease})
		l := newLimit(t, c, name, limit, WithLease(lease))
		s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithSharedLimit(l))
		require.NoError(t, err)
		lims, scheds = append(lims, l), append(scheds, s)
	}
	for k := range 3 * per {
		s := scheds[k%3]
		w := 1 + r.Int64N(3)
		h, err := scheduler.Submit(s, fn(w, time.Duration(r.IntN(300))*time.Millisecond),
			lazytask.WithWeight(int(w)), lazytask.WithPriority(r.IntN(3)))
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for _, h := range hs {
		if r.IntN(5) == 0 {
			h.Cancel(errors.New("withdrawn"))
		}
	}
	// Restart once a few have run.
	recv(t, tenth, "the tenth task's start")
	srv.kill()
	srv = startRedisOn(t, srv.port)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	counts := map[lazytask.State]int{}
	for _, h := range hs {
		_, _ = h.Await(ctx)
		require.NoError(t, ctx.Err(), "a task did not end")
		counts[h.State()]++
	}
	for _, s := range scheds {
		require.NoError(t, s.Shutdown(ctx))
	}
	var losses, reentered uint64
	for _, l := range lims {
		st := l.Stats()
		losses += st.Losses
		reentered += st.Reentered
		require.NoError(t, l.Close())
	}
	t.Logf("states %v; peak %d of %d; lost %d, entered again %d", counts, peak.Load(), limit, losses, reentered)
	assert.LessOrEqual(t, peak.Load(), int64(limit), "peak slots running across the fleet")
	assert.Equal(t, 3*per, counts[lazytask.Succeeded]+counts[lazytask.Canceled]+counts[lazytask.Failed])
	h, w := fleetKeys(t, srv.client(), name)
	assert.Zero(t, h, "holders left in Redis")
	assert.Zero(t, w, "waiters left in Redis")
}
