package redisfleet

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
)

// hookFunc is a test hook that runs f on the Limit's goroutine.
func hookFunc(f func(event)) Option {
	return optionFunc(func(c *config) error {
		c.hook = f
		return nil
	})
}

// A request whose first call reached Redis (which granted it) but whose
// reply was lost, withdrawn before the retry: Acquire's doc says "a grant
// Redis made for it meanwhile is given back by this Limit". The next
// request of the same Limit must then find the slot free.
func TestCancelAfterALostReplyGivesTheGrantBack(t *testing.T) {
	srv := startRedis(t)
	direct := srv.client()
	require.NoError(t, acquireScript.Load(t.Context(), direct).Err())
	require.NoError(t, releaseScript.Load(t.Context(), direct).Err())
	require.NoError(t, renewScript.Load(t.Context(), direct).Err())
	px := newCutProxy(t, srv.addr())
	c := newClientOpts(t, &redis.Options{Addr: px.addr(), DialTimeout: time.Second})

	var cancelA atomic.Pointer[func()]
	unavailable := make(chan struct{}, 1)
	evs := events()
	l := newLimit(t, c, t.Name(), 1, WithLease(time.Minute), WithRestartGrace(0), hookFunc(func(e event) {
		if e.kind == evUnavailable {
			if f := cancelA.Load(); f != nil && cancelA.CompareAndSwap(f, nil) {
				(*f)() // withdrawn while Redis cannot be reached
				px.up()
				unavailable <- struct{}{}
			}
		}
		evs <- e
	}))
	// The loop subscribes first; make sure it is through before arming.
	_, _, err := l.InUse(t.Context())
	require.NoError(t, err)

	answers := make(chan grant, 2)
	px.arm(acquireScript.Hash())
	cancel := ask(l, "A", 0, answers)
	cancelA.Store(&cancel)
	recv(t, px.cut, "the acquire reply cut")
	recv(t, unavailable, "A's attempt failing")

	holders, _ := fleetKeys(t, direct, t.Name())
	require.Equal(t, int64(1), holders, "Redis granted A (its reply was lost)")

	ask(l, "B", 5, answers)
	deadline := time.After(waitFor)
	for {
		select {
		case e := <-evs:
			if e.kind == evQueued && e.prio == 5 {
				h, _ := fleetKeys(t, direct, t.Name())
				t.Fatalf("B waits: the grant Redis made for the withdrawn A is still held (%d holder(s)); it would come back only when its lease (1m) ends", h)
			}
			if e.kind == evGranted && e.prio == 5 {
				g := recv(t, answers, "B's answer")
				require.Equal(t, "B", g.tag, "A was withdrawn: its Granted must not be called")
				require.NoError(t, g.err)
				g.p.Release()
				return
			}
		case <-deadline:
			t.Fatal("no answer for B")
		}
	}
}

var (
	_ = context.Background
	_ = assert.Equal
	_ limiter.Permit
)

// One process's connection to Redis stalls (a network partition of that
// process alone) while it holds the fleet's only slot and another process
// waits: the holder must be told Lost before the other is granted, and
// the other must be granted within about a lease.
func TestPartitionedHolderIsLostBeforeTheSlotMoves(t *testing.T) {
	srv := startRedis(t)
	px := newCutProxy(t, srv.addr())
	const lease = 500 * time.Millisecond
	cp := newClientOpts(t, &redis.Options{Addr: px.addr(), DialTimeout: time.Second, ReadTimeout: 5 * lease})
	p := newLimit(t, cp, t.Name(), 1, WithLease(lease), WithRestartGrace(0))
	q := newLimit(t, srv.client(), t.Name(), 1, WithLease(lease), WithRestartGrace(0))

	type mark struct {
		what string
		at   time.Time
	}
	marks := make(chan mark, 4)
	got := make(chan grant, 2)
	p.Acquire(limiter.Request{Weight: 1,
		Granted: func(pm limiter.Permit, err error) { got <- grant{"p", pm, err} },
		Lost: func(cause error) {
			assert.ErrorIs(t, cause, limiter.ErrLeaseLost)
			marks <- mark{"p lost", time.Now()}
		},
	})
	a := recv(t, got, "p's grant")
	require.NoError(t, a.err)
	px.stall()
	stalled := time.Now()
	q.Acquire(limiter.Request{Weight: 1, Granted: func(pm limiter.Permit, err error) {
		marks <- mark{"q granted", time.Now()}
		got <- grant{"q", pm, err}
	}})
	first := recv(t, marks, "the first mark")
	second := recv(t, marks, "the second mark")
	px.resume()
	assert.Equal(t, "p lost", first.what, "p must be told before its slot moves")
	assert.Equal(t, "q granted", second.what)
	t.Logf("p lost %v after the stall, q granted %v after", first.at.Sub(stalled), second.at.Sub(stalled))
	assert.Less(t, second.at.Sub(stalled), 2*lease, "q granted within about a lease (safety re-check lease/2)")
	b := recv(t, got, "q's grant")
	require.NoError(t, b.err)
	b.p.Release()
	a.p.Release()
}

// The same with no proxy: Redis is slow (DEBUG SLEEP longer than the
// client's read timeout), so the first acquire call times out and the
// request is withdrawn (its task's context canceled); Redis runs that call
// once it wakes, and grants the withdrawn request. The next request must
// be granted well within the lease (DefaultLease), not when A's ends.
func TestCancelAfterASlowRedisGivesTheGrantBack(t *testing.T) {
	srv := startRedisOn(t, freePort(t), "--enable-debug-command", "yes")
	admin := srv.client()
	const lease = DefaultLease
	var cancelA atomic.Pointer[func()]
	unavailable := make(chan struct{}, 1)
	// A client that gives a call up after 100ms, and does not retry it.
	c := newClientOpts(t, &redis.Options{Addr: srv.addr(), ReadTimeout: 100 * time.Millisecond, MaxRetries: -1})
	l := newLimit(t, c, t.Name(), 1, WithLease(lease), WithRestartGrace(0), hookFunc(func(e event) {
		if e.kind == evUnavailable {
			if f := cancelA.Load(); f != nil && cancelA.CompareAndSwap(f, nil) {
				(*f)()
				unavailable <- struct{}{}
			}
		}
	}))
	_, _, err := l.InUse(t.Context()) // the epoch exists
	require.NoError(t, err)
	answers := make(chan grant, 2)
	probe := ask(l, "probe", 0, answers) // the scripts are loaded, a connection is up
	g := recv(t, answers, "a first grant")
	require.NoError(t, g.err)
	g.p.Release()
	probe()

	require.NoError(t, admin.Do(t.Context(), "DEBUG", "SLEEP", "0").Err(), "DEBUG is enabled")
	slept := make(chan error, 1)
	go func() { slept <- admin.Do(context.Background(), "DEBUG", "SLEEP", "1").Err() }()
	// DEBUG SLEEP has reached Redis once a PING on another connection is
	// stuck behind it; that PING's own timeout is the hang guard.
	for {
		c := newClientOpts(t, &redis.Options{Addr: srv.addr(), ReadTimeout: 50 * time.Millisecond, MaxRetries: -1})
		if c.Ping(context.Background()).Err() != nil {
			break
		}
	}
	cancel := ask(l, "A", 0, answers)
	cancelA.Store(&cancel)
	recv(t, unavailable, "A's call timing out")
	require.NoError(t, recv(t, slept, "DEBUG SLEEP"))

	ask(l, "B", 0, answers)
	select {
	case g := <-answers:
		require.Equal(t, "B", g.tag, "A was withdrawn: its Granted must not be called")
		require.NoError(t, g.err)
		g.p.Release()
	case <-time.After(lease / 2):
		h, _ := fleetKeys(t, admin, t.Name())
		t.Fatalf("B still waits after half a lease: Redis granted the withdrawn A when it woke (%d holder(s)) and nobody gave it back", h)
	}
}
