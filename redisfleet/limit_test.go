package redisfleet

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// Two Limits of one name, on two clients (two processes, as far as Redis
// can tell), drive two schedulers with a cap of 8 each: never more than 3
// tasks run across both, all of them run, and no permit is left in Redis.
func TestTwoSchedulersNeverExceedTheFleetLimit(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	const limit, perSched = 3, 100
	var running, peak, arrived atomic.Int64
	all3 := make(chan struct{})
	fn := func(context.Context) (int, error) {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		defer running.Add(-1)
		// The first three wait for each other: the fleet must let three
		// run at once.
		switch a := arrived.Add(1); {
		case a < limit:
			<-all3
		case a == limit:
			close(all3)
		}
		return 1, nil
	}
	var lims []*Limit
	var scheds []*scheduler.Scheduler
	var hs []*lazytask.Task[int]
	start := time.Now()
	for range 2 {
		l := newLimit(t, srv.client(), name, limit, WithLease(2*time.Second))
		s, err := scheduler.New(scheduler.WithLimit(8), scheduler.WithSharedLimit(l))
		require.NoError(t, err)
		lims, scheds = append(lims, l), append(scheds, s)
		for range perSched {
			h, err := scheduler.Submit(s, fn)
			require.NoError(t, err)
			hs = append(hs, h)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, h := range hs {
		v, err := h.Await(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, v)
	}
	elapsed := time.Since(start)
	for _, s := range scheds {
		require.NoError(t, s.Shutdown(ctx))
	}
	var losses uint64
	for _, l := range lims {
		losses += l.Stats().Losses
		require.NoError(t, l.Close()) // gives back what is still on its way
	}
	t.Logf("%d tasks through a fleet cap of %d over 2 Limits: %v, %.0f tasks/s", 2*perSched, limit, elapsed, float64(2*perSched)/elapsed.Seconds())
	assert.Equal(t, int64(limit), peak.Load(), "peak running across both schedulers")
	assert.Zero(t, losses, "permits lost")
	holders, waiters := fleetKeys(t, srv.client(), name)
	assert.Zero(t, holders, "permits left in Redis")
	assert.Zero(t, waiters, "requests left waiting in Redis")
}

// Requests waiting across two Limits are granted by priority, higher
// first, then in the order they reached Redis.
func TestWaitersAreGrantedInPriorityThenRequestOrder(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	ev1, ev2 := events(), events()
	l1 := newLimit(t, srv.client(), name, 1, WithLease(2*time.Second), withHook(ev1))
	l2 := newLimit(t, srv.client(), name, 1, WithLease(2*time.Second), withHook(ev2))
	got := make(chan grant, 10)

	ask(l1, "holder", 0, got)
	first := recv(t, got, "the holder's grant")
	require.NoError(t, first.err)
	require.Equal(t, "holder", first.tag)

	// Each waits in Redis before the next asks.
	for _, q := range []struct {
		l    *Limit
		ev   chan event
		tag  string
		prio int32
	}{
		{l2, ev2, "low-first", 0},
		{l1, ev1, "mid", 1},
		{l2, ev2, "high", 5},
		{l1, ev1, "low-second", 0},
	} {
		ask(q.l, q.tag, q.prio, got)
		waitEvent(t, q.ev, evQueued, q.prio)
	}
	_, waiters := fleetKeys(t, srv.client(), name)
	require.Equal(t, int64(4), waiters, "requests waiting in Redis")

	first.p.Release()
	var order []string
	for range 4 {
		g := recv(t, got, "the next grant")
		require.NoError(t, g.err)
		order = append(order, g.tag)
		g.p.Release()
	}
	assert.Equal(t, []string{"high", "mid", "low-first", "low-second"}, order, "grant order")
}

// A canceled waiting request is never granted, and leaves the line: the
// one behind it gets the permit, as soon as the holder releases.
func TestCancelWithdrawsAWaitingRequest(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	ev2 := events()
	l1 := newLimit(t, srv.client(), name, 1, WithLease(2*time.Second))
	l2 := newLimit(t, srv.client(), name, 1, WithLease(2*time.Second), withHook(ev2))
	got := make(chan grant, 10)

	ask(l1, "holder", 0, got)
	holder := recv(t, got, "the holder's grant")
	require.NoError(t, holder.err)
	cancelA := ask(l2, "a", 2, got)
	waitEvent(t, ev2, evQueued, 2)
	ask(l2, "b", 1, got)
	waitEvent(t, ev2, evQueued, 1)

	cancelA()
	cancelA() // a second cancel does nothing
	released := time.Now()
	holder.p.Release()
	g := recv(t, got, "b's grant")
	since := time.Since(released)
	require.NoError(t, g.err)
	assert.Equal(t, "b", g.tag, "granted after a was canceled")
	// The release's wake message woke l2, not its safety re-check.
	assert.Less(t, since, DefaultLease/2, "b granted after the release")
	t.Logf("released in one Limit, granted in the other %v later", since)
	_, waiters := fleetKeys(t, srv.client(), name)
	assert.Zero(t, waiters, "requests left waiting in Redis")
	assert.Equal(t, 0, l2.Stats().Waiting, "l2.Stats().Waiting")
	g.p.Release()
	g.p.Release() // a second release does nothing
	require.NoError(t, l2.Close())
	select {
	case g := <-got:
		t.Fatalf("unexpected answer after cancel: %+v", g)
	default:
	}
}

// A permit whose lease is found gone at renewal is lost: the running task's
// context is canceled with limiter.ErrLeaseLost.
func TestLeaseFoundGoneCancelsTheTask(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	admin := srv.client()
	l := newLimit(t, srv.client(), name, 2, WithLease(600*time.Millisecond))
	s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithSharedLimit(l))
	require.NoError(t, err)
	started := make(chan struct{})
	h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		return 0, context.Cause(ctx)
	})
	require.NoError(t, err)
	recv(t, started, "the task's start")
	keys, _ := keysFor(name)
	require.NoError(t, admin.Del(context.Background(), keys[0]).Err(), "DEL holders")

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err = h.Await(ctx)
	require.ErrorIs(t, err, limiter.ErrLeaseLost, "the task's error")
	require.NoError(t, s.Shutdown(ctx))
	st := l.Stats()
	assert.Equal(t, uint64(1), st.Losses, "Stats().Losses")
	assert.Equal(t, 0, st.Permits, "Stats().Permits after the task ended")
}

// A Redis that stops answering (SIGSTOP) longer than the lease: the permit
// is declared lost before its lease could lapse, though no renewal gets an
// answer; once Redis is back, requests are granted again.
func TestPausedRedisLosesTheLeaseBeforeItLapses(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	const lease = 1500 * time.Millisecond // Lost is due by 0.8 lease: 300ms of slack
	ev := events()
	l := newLimit(t, srv.client(), name, 1, WithLease(lease), withHook(ev))
	got := make(chan grant, 2)
	lost := make(chan error, 2)
	l.Acquire(limiter.Request{
		Weight:  1,
		Granted: func(p limiter.Permit, err error) { got <- grant{"a", p, err} },
		Lost:    func(cause error) { lost <- cause },
	})
	a := recv(t, got, "a's grant")
	require.NoError(t, a.err)
	waitEvent(t, ev, evRenewed, 0) // one renewal round has worked

	srv.signal(syscall.SIGSTOP)
	paused := time.Now()
	cause := recv(t, lost, "Lost while Redis is paused")
	since := time.Since(paused)
	srv.signal(syscall.SIGCONT)
	require.ErrorIs(t, cause, limiter.ErrLeaseLost, "Lost's cause")
	assert.Less(t, since, lease, "Lost came %v after the pause; the lease is %v", since, lease)
	t.Logf("Lost %v after Redis was paused (lease %v)", since, lease)
	assert.Equal(t, uint64(1), l.Stats().Losses, "Stats().Losses")
	a.p.Release()

	l.Acquire(limiter.Request{Weight: 1, Granted: func(p limiter.Permit, err error) { got <- grant{"b", p, err} }})
	b := recv(t, got, "b's grant once Redis is back")
	require.NoError(t, b.err)
	b.p.Release()
}

// With WithFailFast, a request that cannot reach Redis is answered with
// limiter.ErrSharedUnavailable, and the scheduler ends its task Failed.
func TestFailFastWhenRedisIsDown(t *testing.T) {
	needRedis(t)
	c := deadClient(t, "127.0.0.1:"+itoa(freePort(t)))
	l := newLimit(t, c, t.Name(), 2, WithFailFast())
	got := make(chan grant, 1)
	ask(l, "a", 0, got)
	g := recv(t, got, "the answer")
	require.ErrorIs(t, g.err, limiter.ErrSharedUnavailable, "Granted's error")
	require.Nil(t, g.p, "Granted's permit")

	s, err := scheduler.New(scheduler.WithSharedLimit(l))
	require.NoError(t, err)
	h, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err = h.Await(ctx)
	require.ErrorIs(t, err, limiter.ErrSharedUnavailable, "the task's error")
	require.NoError(t, s.Shutdown(ctx))
}

// Without WithFailFast, a request waits while Redis is down and is granted
// once it comes up.
func TestWaitsWhileRedisIsDownThenRecovers(t *testing.T) {
	needRedis(t)
	port := freePort(t)
	ev := events()
	c := deadClient(t, "127.0.0.1:"+itoa(port))
	l := newLimit(t, c, t.Name(), 2, withHook(ev), WithLease(time.Second))
	got := make(chan grant, 1)
	ask(l, "a", 0, got)
	e := waitEvent(t, ev, evUnavailable, 0)
	require.Error(t, e.err)
	select {
	case g := <-got:
		t.Fatalf("answered while Redis is down: %+v", g)
	default:
	}
	startRedisOn(t, port)
	g := recv(t, got, "the grant once Redis is up")
	require.NoError(t, g.err)
	g.p.Release()
}

// New refuses bad input with its sentinels; Acquire answers bad weights
// and requests after Close at once.
func TestBadInput(t *testing.T) {
	c := newClient(t, "127.0.0.1:1")
	for _, tc := range []struct {
		name string
		err  error
		new  func() (*Limit, error)
	}{
		{"nil client", ErrInvalidArgument, func() (*Limit, error) { return New(nil, "x", 1) }},
		{"empty name", ErrInvalidArgument, func() (*Limit, error) { return New(c, "", 1) }},
		{"limit 0", limiter.ErrInvalidLimit, func() (*Limit, error) { return New(c, "x", 0) }},
		{"limit above MaxLimit", limiter.ErrInvalidLimit, func() (*Limit, error) { return New(c, "x", MaxLimit+1) }},
		{"short lease", ErrInvalidArgument, func() (*Limit, error) { return New(c, "x", 1, WithLease(time.Millisecond)) }},
		{"negative grace", ErrInvalidArgument, func() (*Limit, error) { return New(c, "x", 1, WithRestartGrace(-time.Second)) }},
		{"nil option", ErrInvalidArgument, func() (*Limit, error) { return New(c, "x", 1, nil) }},
	} {
		l, err := tc.new()
		assert.ErrorIs(t, err, tc.err, "New with %s", tc.name)
		assert.Nil(t, l, "New with %s", tc.name)
	}

	l := newLimit(t, c, "x", 2)
	got := make(chan grant, 3)
	l.Acquire(limiter.Request{Weight: 0, Granted: func(p limiter.Permit, err error) { got <- grant{"w0", p, err} }})
	l.Acquire(limiter.Request{Weight: 3, Granted: func(p limiter.Permit, err error) { got <- grant{"w3", p, err} }})
	assert.ErrorIs(t, recv(t, got, "weight 0").err, limiter.ErrInvalidWeight)
	assert.ErrorIs(t, recv(t, got, "weight 3").err, limiter.ErrWeightTooLarge)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "a second Close")
	ask(l, "after", 0, got)
	assert.True(t, errors.Is(recv(t, got, "after Close").err, ErrClosed), "Acquire after Close")
}

// A Redis restart that loses the keys, with the restart grace off: the
// permit held is lost (the task would be canceled), and requests are
// granted again by the new Redis.
func TestRedisRestartWithoutGraceLosesThePermitsHeld(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	l := newLimit(t, srv.client(), name, 1, WithLease(time.Second), WithRestartGrace(0))
	got := make(chan grant, 2)
	lost := make(chan error, 1)
	l.Acquire(limiter.Request{
		Weight:  1,
		Granted: func(p limiter.Permit, err error) { got <- grant{"a", p, err} },
		Lost:    func(cause error) { lost <- cause },
	})
	a := recv(t, got, "a's grant")
	require.NoError(t, a.err)

	srv.kill()
	startRedisOn(t, srv.port)
	require.ErrorIs(t, recv(t, lost, "Lost after the restart"), limiter.ErrLeaseLost, "Lost's cause")
	a.p.Release()
	ask(l, "b", 0, got)
	b := recv(t, got, "b's grant from the new Redis")
	require.NoError(t, b.err)
	b.p.Release()
}

// A Redis restart that loses the keys keeps the cap: the new Redis grants
// nothing during its restart grace, the holder of before enters its permit
// again at its next renewal (not lost), and a request of another process
// made at once after the restart is granted only when that permit is
// released.
func TestRedisRestartKeepsTheCap(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	const lease = 2 * time.Second
	ev := events()
	l1 := newLimit(t, srv.client(), name, 1, WithLease(lease), withHook(ev))
	got := make(chan grant, 2)
	lost := make(chan error, 1)
	l1.Acquire(limiter.Request{
		Weight:  1,
		Granted: func(p limiter.Permit, err error) { got <- grant{"a", p, err} },
		Lost:    func(cause error) { lost <- cause },
	})
	a := recv(t, got, "a's grant")
	require.NoError(t, a.err)

	srv.kill()
	restarted := time.Now()
	srv2 := startRedisOn(t, srv.port)
	l2 := newLimit(t, srv2.client(), name, 1, WithLease(lease))
	fs, err := l2.Fleet(t.Context())
	require.NoError(t, err)
	assert.Positive(t, fs.Grace, "the new Redis's restart grace")
	assert.LessOrEqual(t, fs.Grace, lease, "the new Redis's restart grace")
	ask(l2, "b", 0, got)
	for l1.Stats().Reentered == 0 {
		waitEvent(t, ev, evRenewed, 0)
	}
	t.Logf("the permit was entered again %v after the restart began", time.Since(restarted))
	inUse, waiting, err := l1.InUse(t.Context())
	require.NoError(t, err)
	assert.Equal(t, int64(1), inUse, "the fleet's slots in use after the re-entry")
	assert.Equal(t, int64(1), waiting, "requests waiting after the re-entry")
	select {
	case g := <-got:
		t.Fatalf("granted while the permit of before is held: %+v", g)
	case err := <-lost:
		t.Fatalf("the permit of before was lost: %v", err)
	default:
	}
	a.p.Release()
	b := recv(t, got, "b's grant once a is released")
	require.NoError(t, b.err)
	require.Equal(t, "b", b.tag)
	b.p.Release()
	assert.Zero(t, l1.Stats().Losses, "Stats().Losses of the holder")
}

// A wake message names the processes it granted for: only those, and
// every Limit on any other message or a (re)subscription, try again.
func TestWakeMessagesWakeOnlyTheProcessesNamed(t *testing.T) {
	l := &Limit{idPrefix: "aa11"}
	for _, tc := range []struct {
		m    any
		want bool
	}{
		{&redis.Message{Payload: "grant aa11"}, true},
		{&redis.Message{Payload: "grant bb22 aa11 cc33"}, true},
		{&redis.Message{Payload: "grant bb22 cc33"}, false},
		{&redis.Message{Payload: "grant aa1"}, false},
		{&redis.Message{Payload: "expired"}, true},
		{&redis.Subscription{Kind: "subscribe"}, true},
	} {
		assert.Equal(t, tc.want, l.wakes(tc.m), "wakes(%+v)", tc.m)
	}
}

// At MaxLimit the cap stays exact although Redis's scripts add weights as
// doubles: with MaxLimit held, a request of weight 1 waits. At 2^53 it was
// granted (2^53+1 rounds to 2^53), one over the cap.
func TestTheCapHoldsAtMaxLimit(t *testing.T) {
	srv := startRedis(t)
	ev := events()
	l := newLimit(t, srv.client(), "max", MaxLimit, WithRestartGrace(0), withHook(ev))
	got := make(chan grant, 2)
	l.Acquire(limiter.Request{Weight: MaxLimit, Priority: 1, Granted: func(p limiter.Permit, err error) { got <- grant{"all", p, err} }})
	all := recv(t, got, "the request of MaxLimit")
	require.NoError(t, all.err)
	cancel := l.Acquire(limiter.Request{Weight: 1, Priority: 2, Granted: func(p limiter.Permit, err error) { got <- grant{"one", p, err} }})
	// Redis's answer to the request of 1: it waits there, or (the bug) it
	// is granted.
	deadline := time.After(waitFor)
	for answered := false; !answered; {
		select {
		case e := <-ev:
			switch {
			case e.kind == evQueued && e.prio == 2:
				answered = true
			case e.kind == evGranted && e.prio == 2:
				t.Fatalf("a request of 1 was granted with MaxLimit held: %+v", l.Stats())
			}
		case <-deadline:
			t.Fatal("no answer from Redis to the request of 1")
		}
	}
	assert.EqualValues(t, MaxLimit, l.Stats().Held, "nothing over the cap")
	cancel()
	all.p.Release()
}

// Close with Redis frozen (SIGSTOP) while a permit is held and two requests
// wait: Close answers them itself, at once (Lost and Granted carry
// ErrClosed), and returns after one lease at most, though the loop's call
// to Redis hangs until the client's read timeout (5 s here). Before, Close
// waited for the loop: 4 to 25 s, and the permit was lost by its timer.
func TestCloseWithRedisFrozenAnswersAtOnceAndReturnsWithinALease(t *testing.T) {
	srv := startRedis(t)
	const lease = 1500 * time.Millisecond
	ev := events()
	l, err := New(srv.client(), t.Name(), 1, WithLease(lease), WithRestartGrace(0), withHook(ev))
	require.NoError(t, err)
	got := make(chan grant, 3)
	lost := make(chan error, 1)
	l.Acquire(limiter.Request{Weight: 1, Priority: 1,
		Granted: func(p limiter.Permit, err error) { got <- grant{"holder", p, err} },
		Lost:    func(cause error) { lost <- cause }})
	require.NoError(t, recv(t, got, "the holder's grant").err)
	for _, prio := range []int32{2, 3} {
		ask(l, "waiter", prio, got)
		waitEvent(t, ev, evQueued, prio) // Redis has it waiting
	}
	srv.signal(syscall.SIGSTOP)
	cont := sync.OnceFunc(func() { srv.signal(syscall.SIGCONT) })
	t.Cleanup(cont)
	start := time.Now()
	require.NoError(t, l.Close())
	took := time.Since(start)
	assert.Less(t, took, 2*lease, "Close with Redis frozen took %v (lease %v)", took, lease)
	cause := recv(t, lost, "the holder's Lost")
	assert.ErrorIs(t, cause, ErrClosed, "Lost's cause")
	assert.ErrorIs(t, cause, limiter.ErrLeaseLost, "Lost's cause")
	for range 2 {
		assert.ErrorIs(t, recv(t, got, "a waiter's answer").err, ErrClosed)
	}
	cont()
	select {
	case <-l.stopped:
	case <-time.After(waitFor):
		t.Fatal("the Limit's goroutine did not end once Redis was back")
	}
}
