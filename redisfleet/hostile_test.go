package redisfleet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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

// killClients drops every connection of the server but admin's own: the
// Limit's commands and its wake subscription alike (CLIENT KILL, as an
// operator or a proxy's failover does it).
func killClients(t *testing.T, admin *redis.Client) {
	t.Helper()
	ctx := context.Background()
	for _, typ := range []string{"normal", "pubsub"} {
		require.NoError(t, admin.Do(ctx, "CLIENT", "KILL", "TYPE", typ, "SKIPME", "yes").Err(), "CLIENT KILL TYPE %s", typ)
	}
}

// Connections killed under the Limit while it holds a permit and a request
// waits in Redis: the waiter is still granted once the permit is released,
// and nothing is left in Redis. With a client that retries (go-redis's
// default) and with one that never does, whose next command then fails and
// goes to the loop's retry.
func TestHostileClientKillWhileHoldingAndWaiting(t *testing.T) {
	srv := startRedis(t)
	admin := srv.client()
	for _, c := range []struct {
		name string
		opts *redis.Options
	}{
		{"retrying", &redis.Options{Addr: srv.addr(), DialTimeout: time.Second, ReadTimeout: 5 * time.Second}},
		{"no retries", &redis.Options{Addr: srv.addr(), DialTimeout: time.Second, ReadTimeout: 5 * time.Second, MaxRetries: -1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := t.Name()
			ev := events()
			l := newLimit(t, newClientOpts(t, c.opts), name, 1, WithLease(time.Second), withHook(ev))
			out := make(chan grant, 2)
			ask(l, "first", 0, out)
			g := recv(t, out, "the first grant")
			require.NoError(t, g.err)
			for i := range 8 {
				ask(l, "next", int32(i), out)
				waitEvent(t, ev, evQueued, int32(i)) // it waits in Redis
				killClients(t, admin)
				select {
				case extra := <-out:
					t.Fatalf("round %d: granted %q while the one slot was held (err %v)", i, extra.tag, extra.err)
				default:
				}
				g.p.Release()
				g = recv(t, out, "the grant after CLIENT KILL")
				require.NoError(t, g.err, "round %d", i)
				require.NotNil(t, g.p, "round %d", i)
			}
			g.p.Release()
			require.NoError(t, l.Close())
			holders, waiters := fleetKeys(t, admin, name)
			assert.Zero(t, holders, "holders left in Redis after Close")
			assert.Zero(t, waiters, "waiters left in Redis after Close")
			t.Logf("%s: stats %+v", c.name, l.Stats())
		})
	}
}

// FLUSHALL under a running Limit (an operator's mistake) looks like a
// restart that lost the keys. With the restart grace (the default) the
// permit held enters itself again and keeps the slot: the request that
// waited, whose entry went with the rest, is granted only once it is
// released. With no grace the held permit is told Lost, since its slot may
// now go to another, and the waiter is granted at once.
func TestHostileFlushAllUnderALimit(t *testing.T) {
	srv := startRedis(t)
	admin := srv.client()
	for _, grace := range []bool{true, false} {
		t.Run(map[bool]string{true: "grace", false: "no grace"}[grace], func(t *testing.T) {
			name := t.Name()
			ev := events()
			opts := []Option{WithLease(900 * time.Millisecond), withHook(ev)}
			if !grace {
				opts = append(opts, WithRestartGrace(0))
			}
			l := newLimit(t, srv.client(), name, 1, opts...)
			lost := make(chan error, 1)
			held := make(chan grant, 1)
			l.Acquire(limiter.Request{Weight: 1,
				Granted: func(p limiter.Permit, err error) { held <- grant{"held", p, err} },
				Lost:    func(cause error) { lost <- cause },
			})
			g := recv(t, held, "the first grant")
			require.NoError(t, g.err)
			out := make(chan grant, 1)
			ask(l, "waiting", 3, out)
			waitEvent(t, ev, evQueued, 3)
			require.NoError(t, admin.FlushAll(context.Background()).Err(), "FLUSHALL")

			if grace {
				// Renewals go on: the permit re-entered itself.
				waitEvent(t, ev, evRenewed, 0)
				waitEvent(t, ev, evRenewed, 0)
				select {
				case w := <-out:
					t.Fatalf("the waiter was granted (err %v) while the re-entered permit held the one slot", w.err)
				case cause := <-lost:
					t.Fatalf("the held permit was lost (%v) though the grace lets it re-enter", cause)
				default:
				}
				assert.Equal(t, uint64(1), l.Stats().Reentered, "Stats().Reentered")
				g.p.Release()
			} else {
				require.ErrorIs(t, recv(t, lost, "Lost of the permit held"), limiter.ErrLeaseLost)
			}
			w := recv(t, out, "the waiting request's grant")
			require.NoError(t, w.err)
			g.p.Release() // a second Release, or a lost permit's: it does nothing
			holders, _ := fleetKeys(t, admin, name)
			assert.Equal(t, int64(1), holders, "holders in Redis: the waiter only")
			w.p.Release()
			require.NoError(t, l.Close())
			holders, waiters := fleetKeys(t, admin, name)
			assert.Zero(t, holders+waiters, "entries left in Redis after Close")
		})
	}
}

// A Granted and a Lost that panic on the Limit's goroutine end neither it
// nor the program: the permit whose Granted panicked is released (else it
// would be renewed, its slot taken from the fleet, until Close), and the
// next request is granted.
func TestHostilePanickingCallbacksAreRecovered(t *testing.T) {
	srv := startRedis(t)
	admin := srv.client()
	l := newLimit(t, srv.client(), t.Name(), 1, WithLease(600*time.Millisecond), WithRestartGrace(0))
	var log bytes.Buffer
	var logMu sync.Mutex
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(lockedWriter{&logMu, &log}, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	granted := make(chan struct{})
	l.Acquire(limiter.Request{Weight: 1, Granted: func(limiter.Permit, error) {
		close(granted)
		panic("boom in Granted")
	}})
	recv(t, granted, "the panicking Granted")
	out := make(chan grant, 1)
	lost := make(chan struct{})
	l.Acquire(limiter.Request{Weight: 1,
		Granted: func(p limiter.Permit, err error) { out <- grant{"second", p, err} },
		Lost:    func(error) { close(lost); panic("boom in Lost") },
	})
	g := recv(t, out, "the grant after a panicking Granted released its permit")
	require.NoError(t, g.err)
	keys, _ := keysFor(t.Name())
	// The lease and its weight gone, as when it lapsed: Redis has room.
	require.NoError(t, admin.Del(context.Background(), keys[0], keys[1]).Err(), "DEL holders weights")
	recv(t, lost, "the panicking Lost")
	ask(l, "third", 0, out)
	g3 := recv(t, out, "a grant after a panicking Lost")
	require.NoError(t, g3.err)
	g.p.Release()
	g3.p.Release()
	require.NoError(t, l.Close())
	logMu.Lock()
	defer logMu.Unlock()
	assert.Contains(t, log.String(), "boom in Granted", "the Granted panic is logged")
	assert.Contains(t, log.String(), "boom in Lost", "the Lost panic is logged")
}

// lockedWriter serialises the writes of a logger shared by goroutines.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
