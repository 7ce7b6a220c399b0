package redisfleet

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// A Limit kept busy granting (a scheduler with a long queue of short
// tasks: each Granted starts its task, which ends at once, and asks for
// the next) on a healthy Redis, with room to spare: the permit it holds
// meanwhile must be renewed every lease/3 as the doc says, not lost, and
// the permits its tasks gave back must reach Redis, not hold the fleet's
// slots.
func TestBusyGrantingStillRenewsAndReleases(t *testing.T) {
	srv := startRedis(t)
	const lease, limit = 300 * time.Millisecond, 100000
	l := newLimit(t, srv.client(), t.Name(), limit, WithLease(lease), WithRestartGrace(0))
	lost := make(chan error, 1)
	got := make(chan grant, 1)
	l.Acquire(limiter.Request{Weight: 1,
		Granted: func(p limiter.Permit, err error) { got <- grant{"held", p, err} },
		Lost:    func(cause error) { lost <- cause },
	})
	held := recv(t, got, "the held permit")
	require.NoError(t, held.err)

	var grants atomic.Int64
	var maxFleet atomic.Int64
	stop := make(chan struct{})
	stopped := make(chan struct{})
	var next func()
	next = func() {
		l.Acquire(limiter.Request{Weight: 1, Granted: func(p limiter.Permit, err error) {
			if err != nil {
				close(stopped)
				return
			}
			p.Release() // the task ran and ended
			if f := l.Stats().FleetInUse; f > maxFleet.Load() {
				maxFleet.Store(f)
			}
			grants.Add(1)
			select {
			case <-stop:
				close(stopped)
			default:
				next() // the next task of the queue
			}
		}})
	}
	next()
	var cause error
	select {
	case cause = <-lost:
	case <-time.After(4 * lease): // a healthy Redis: no loss is the pass
	}
	close(stop)
	<-stopped
	t.Logf("%d grants in the stream; fleet in use seen up to %d (1 really held)", grants.Load(), maxFleet.Load())
	assert.NoError(t, cause, "the held permit was lost on a healthy Redis while the Limit kept granting")
	assert.Less(t, maxFleet.Load(), int64(100), "slots in use in Redis while one permit was held and the others released at once")
	held.p.Release()
}

// The same through a scheduler, as a user would have it: one long task
// holds a permit while a queue of short tasks streams through the same
// fleet limit, on a healthy Redis with room to spare. The long task's
// lease must be renewed, not lost (its context canceled with
// ErrLeaseLost).
func TestSchedulerStreamDoesNotLoseALongTasksLease(t *testing.T) {
	srv := startRedis(t)
	const lease, limit = 300 * time.Millisecond, 100000
	l := newLimit(t, srv.client(), t.Name(), limit, WithLease(lease), WithRestartGrace(0))
	s, err := scheduler.New(scheduler.WithLimit(64), scheduler.WithSharedLimit(l))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	started := make(chan struct{})
	long, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		close(started)
		select {
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		case <-time.After(4 * lease): // a healthy Redis: running to the end is the pass
			return 1, nil
		}
	})
	require.NoError(t, err)
	<-started
	var ran atomic.Int64
	stop := make(chan struct{})
	for range 8 { // submitters keep the queue full of short tasks
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				h, err := scheduler.Submit(s, func(context.Context) (int, error) { ran.Add(1); return 0, nil })
				if err != nil {
					return
				}
				_, _ = h.Await(context.Background())
			}
		}()
	}
	v, err := long.Await(context.Background())
	close(stop)
	t.Logf("short tasks run meanwhile: %d; Stats %+v", ran.Load(), l.Stats())
	assert.NoError(t, err, "the long task")
	assert.Equal(t, 1, v)
}
