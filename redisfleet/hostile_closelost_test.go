package redisfleet

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
)

// Close promises that no callback of the Limit runs after it returns. A
// permit's timer declares it lost on a goroutine of its own: while that
// Lost runs, Close must wait for it (as it waits for the loop's), not
// return with the callback still running. Close returned at once.
// (Like its wait for the loop, that wait is bounded by a lease.)
func TestCloseWaitsForALostCalledByTheTimer(t *testing.T) {
	srv := startRedis(t)
	px := newCutProxy(t, srv.addr())
	const lease = time.Second
	c := newClientOpts(t, &redis.Options{Addr: px.addr(), DialTimeout: time.Second, ReadTimeout: 5 * lease})
	ev := events()
	l := newLimit(t, c, t.Name(), 1, WithLease(lease), WithRestartGrace(0), withHook(ev))

	got := make(chan grant, 1)
	entered, release := make(chan struct{}), make(chan struct{})
	var lostDone atomic.Bool
	l.Acquire(limiter.Request{Weight: 1,
		Granted: func(p limiter.Permit, err error) { got <- grant{"a", p, err} },
		Lost: func(cause error) {
			close(entered)
			<-release
			lostDone.Store(true)
		},
	})
	a := recv(t, got, "a's grant")
	require.NoError(t, a.err)
	waitEvent(t, ev, evRenewed, 0)

	px.stall() // renewals get no answer: the timer declares the permit lost
	recv(t, entered, "Lost, from the timer")
	px.resume()

	closed := make(chan bool, 1)
	go func() {
		_ = l.Close()
		closed <- lostDone.Load()
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while the permit's Lost still ran")
	case <-time.After(lease / 3): // a bound on an absence, not a synchronisation (Close waits a lease at most)
	}
	close(release)
	assert.True(t, recv(t, closed, "Close, once Lost has returned"), "Lost had returned when Close did")
	a.p.Release()
}

// Close from inside a Lost that a permit's timer calls returns (it does
// not wait for the callback it is called from), and a Close from outside
// made meanwhile returns once that Lost has.
func TestCloseFromALostCalledByTheTimer(t *testing.T) {
	srv := startRedis(t)
	px := newCutProxy(t, srv.addr())
	const lease = 300 * time.Millisecond
	c := newClientOpts(t, &redis.Options{Addr: px.addr(), DialTimeout: time.Second, ReadTimeout: 5 * lease})
	ev := events()
	l := newLimit(t, c, t.Name(), 1, WithLease(lease), WithRestartGrace(0), withHook(ev))
	got := make(chan grant, 1)
	inner := make(chan error, 1)
	l.Acquire(limiter.Request{Weight: 1,
		Granted: func(p limiter.Permit, err error) { got <- grant{"a", p, err} },
		Lost:    func(error) { inner <- l.Close() },
	})
	a := recv(t, got, "a's grant")
	require.NoError(t, a.err)
	waitEvent(t, ev, evRenewed, 0)
	px.stall()
	require.NoError(t, recv(t, inner, "Close from the timer's Lost"))
	px.resume()
	require.NoError(t, l.Close())
	a.p.Release()
}
