package redisfleet

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// Close called from inside Granted (on the Limit's own goroutine) returns:
// the permit it was handed is told Lost with ErrClosed, and a request still
// waiting is answered with ErrClosed; that answer's Granted may call Close
// too.
func TestHostileCloseFromGranted(t *testing.T) {
	srv := startRedis(t)
	l := newLimit(t, srv.client(), t.Name(), 1, WithLease(time.Second), WithRestartGrace(0))
	closed := make(chan error, 1)
	lost := make(chan error, 1)
	waiting := make(chan grant, 1)
	l.Acquire(limiter.Request{
		Weight: 1,
		Granted: func(p limiter.Permit, err error) {
			if err != nil {
				closed <- err
				return
			}
			// Waits (the one slot is held) until Close answers it.
			l.Acquire(limiter.Request{Weight: 1, Granted: func(p limiter.Permit, err error) {
				waiting <- grant{"second", p, err}
				_ = l.Close()
			}})
			closed <- l.Close()
		},
		Lost: func(cause error) { lost <- cause },
	})
	require.NoError(t, recv(t, closed, "Close from inside Granted"))
	require.ErrorIs(t, recv(t, lost, "Lost of the permit held at Close"), ErrClosed)
	g := recv(t, waiting, "the waiting request's answer")
	require.ErrorIs(t, g.err, ErrClosed)
	require.Nil(t, g.p)
	require.NoError(t, l.Close(), "Close from outside, after")
}

// A Close from outside waits while the answers it causes run, and one of
// them calls Close again: neither hangs.
func TestHostileCloseFromTheAnswerToAnotherClose(t *testing.T) {
	srv := startRedis(t)
	ev := events()
	l := newLimit(t, srv.client(), t.Name(), 1, WithLease(time.Second), WithRestartGrace(0), withHook(ev))
	held := make(chan grant, 1)
	ask(l, "holder", 0, held)
	h := recv(t, held, "the holder's grant")
	require.NoError(t, h.err)
	answered := make(chan error, 1)
	l.Acquire(limiter.Request{Weight: 1, Granted: func(_ limiter.Permit, err error) {
		answered <- err
		_ = l.Close() // while the Close below waits for l's goroutine
	}})
	waitEvent(t, ev, evQueued, 0) // it waits in Redis
	require.NoError(t, l.Close())
	require.ErrorIs(t, recv(t, answered, "the waiting request's answer"), ErrClosed)
	h.p.Release()
}

// Close called from inside Lost returns, and leaves nothing in Redis.
func TestHostileCloseFromLost(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	l := newLimit(t, srv.client(), name, 2, WithLease(600*time.Millisecond), WithRestartGrace(0))
	got := make(chan grant, 1)
	closed := make(chan error, 1)
	l.Acquire(limiter.Request{
		Weight:  1,
		Granted: func(p limiter.Permit, err error) { got <- grant{"a", p, err} },
		Lost:    func(error) { closed <- l.Close() },
	})
	a := recv(t, got, "a's grant")
	require.NoError(t, a.err)
	keys, _ := keysFor(name)
	require.NoError(t, srv.client().Del(context.Background(), keys[0]).Err(), "DEL holders")
	require.NoError(t, recv(t, closed, "Close from inside Lost"))
	a.p.Release() // after Close: does nothing, blocks nothing
	holders, waiters := fleetKeys(t, srv.client(), name)
	assert.Zero(t, holders)
	assert.Zero(t, waiters)
}

// A chain of requests, each made and its predecessor released from inside
// Granted, at limit 1: every link is granted, one at a time.
func TestHostileAcquireAndReleaseFromGranted(t *testing.T) {
	srv := startRedis(t)
	l := newLimit(t, srv.client(), t.Name(), 1, WithLease(time.Second), WithRestartGrace(0))
	const links = 50
	var held atomic.Int32
	var peak atomic.Int32
	done := make(chan error, 1)
	var next func(i int, prev limiter.Permit)
	next = func(i int, prev limiter.Permit) {
		l.Acquire(limiter.Request{Weight: 1, Granted: func(p limiter.Permit, err error) {
			if err != nil {
				done <- err
				return
			}
			if n := held.Add(1); n > peak.Load() {
				peak.Store(n)
			}
			if i == links {
				held.Add(-1)
				p.Release()
				done <- nil
				return
			}
			next(i+1, p) // asked while this one is held: it must wait for the release below
			held.Add(-1)
			p.Release()
		}})
	}
	next(1, nil)
	require.NoError(t, recv(t, done, "the last link's grant"))
	assert.Equal(t, int32(1), peak.Load(), "permits held at once at limit 1")
	st := l.Stats()
	assert.Zero(t, st.Permits)
	assert.Zero(t, st.Waiting)
}

// Acquire, cancel, Release and Close from many goroutines at once: every
// request is answered exactly once or withdrawn, Close returns, and nothing
// is left held or waiting in Redis.
func TestHostileCloseRacesEverything(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	l, err := New(srv.client(), name, 3, WithLease(time.Second), WithRestartGrace(0))
	require.NoError(t, err)
	const goroutines, each = 8, 40
	var answers, grants, closedAnswers, twice, cancels atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	var first sync.Once
	granted := make(chan struct{})
	for g := range goroutines {
		wg.Go(func() {
			<-start
			for i := range each {
				var once atomic.Bool
				cancel := l.Acquire(limiter.Request{Weight: 1 + int64((g+i)%2), Granted: func(p limiter.Permit, err error) {
					if once.Swap(true) {
						twice.Add(1)
					}
					answers.Add(1)
					switch {
					case err == nil:
						first.Do(func() { close(granted) })
						grants.Add(1)
						p.Release()
						p.Release()
					case errors.Is(err, ErrClosed):
						closedAnswers.Add(1)
					}
				}})
				if i%3 == 0 {
					cancels.Add(1)
					cancel()
				}
			}
		})
	}
	close(start)
	wg.Go(func() {
		<-granted // Close while grants, releases and withdrawals go on
		assert.NoError(t, l.Close())
	})
	wg.Wait()
	require.NoError(t, l.Close(), "a second Close")
	assert.Zero(t, twice.Load(), "requests answered twice")
	// Each request not withdrawn was answered (one withdrawn late was too).
	assert.GreaterOrEqual(t, answers.Load(), goroutines*each-cancels.Load(), "requests answered")
	st := l.Stats()
	assert.Zero(t, st.Permits, "permits held after Close")
	assert.Zero(t, st.Waiting, "requests waiting after Close")
	t.Logf("%d requests: %d answered (%d granted, %d ErrClosed)", goroutines*each, answers.Load(), grants.Load(), closedAnswers.Load())
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	// What Close could not tell Redis expires with its lease; nothing else
	// may be left.
	for {
		holders, waiters := fleetKeys(t, srv.client(), name)
		if holders == 0 && waiters == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("left in Redis after Close: %d holders, %d waiters", holders, waiters)
		case <-time.After(50 * time.Millisecond): // polling Redis, which has no event to wait on
		}
	}
}

// The Limit closed while its scheduler still runs tasks and has more
// queued (Close is meant to come after Shutdown): the running tasks see
// their contexts canceled with ErrLeaseLost and ErrClosed, the queued ones
// fail with ErrClosed, none is lost, and Shutdown returns.
func TestHostileLimitClosedUnderItsScheduler(t *testing.T) {
	srv := startRedis(t)
	l := newLimit(t, srv.client(), t.Name(), 2, WithLease(time.Second), WithRestartGrace(0))
	s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithSharedLimit(l))
	require.NoError(t, err)
	started := make(chan struct{}, 2)
	var hs []*lazytask.Task[int]
	for range 10 {
		h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			started <- struct{}{}
			<-ctx.Done()
			return 0, context.Cause(ctx)
		})
		require.NoError(t, err)
		hs = append(hs, h)
	}
	recv(t, started, "a task's start")
	recv(t, started, "a task's start")
	require.NoError(t, l.Close())
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var lost, closed int
	for _, h := range hs {
		_, err := h.Await(ctx)
		require.ErrorIs(t, err, ErrClosed, "every task's error names the close")
		if errors.Is(err, limiter.ErrLeaseLost) {
			lost++
		} else {
			closed++
		}
	}
	assert.Equal(t, 2, lost, "tasks that ran and lost their permits")
	assert.Equal(t, 8, closed, "tasks that never ran")
	require.NoError(t, s.Shutdown(ctx))
}
