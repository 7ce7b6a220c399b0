//go:build unix

package factory_test

// Hostile tests of the servers (Start, Serve, StartHTTP, ServeHTTP) with
// real sockets on 127.0.0.1, in the spirit of net/http's tests of
// Server.Shutdown and of faults seen in production: clients that never
// send, send half a request or sit idle on a keep-alive connection;
// listeners that fail, fail again, and are closed by someone else; a cap
// of 1 under a burst of clients; handlers that panic, call runtime.Goexit
// or ignore their cancellation; misuse of the entry points. Every wait is
// on a channel, a context or a connection's deadline; a deadline is a hang
// guard, never what a passing test waits for.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// hsGuard bounds a read or a wait that the bug under test would turn into
// a hang; a passing run never reaches it.
const hsGuard = 5 * time.Second

// hsClosed reports whether the peer closed c: reading to the end gets EOF
// or a reset before the hang guard passes (a timeout is not a close).
func hsClosed(c *client) bool {
	_ = c.conn.SetReadDeadline(time.Now().Add(hsGuard))
	_, err := io.Copy(io.Discard, c.r)
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

// hsDone reports whether ch has a value or is closed, without waiting.
func hsDone[T any](ch <-chan T) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// hsMax raises peak to n if n is higher.
func hsMax(peak *atomic.Int32, n int32) {
	for {
		p := peak.Load()
		if n <= p || peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// hsLines is a line-echo handler that tells started when it runs and
// sends context.Cause of its context to causes when it returns.
func hsLines(started chan<- struct{}, causes chan<- error) func(context.Context, net.Conn) error {
	return func(ctx context.Context, conn net.Conn) error {
		started <- struct{}{}
		err := echo(ctx, conn) // blocks in Read; the server closes conn on cancel
		causes <- context.Cause(ctx)
		return err
	}
}

// hsScriptListener answers its first Accept calls from script (a nil entry
// is a real Accept), then every call is a real Accept; with alt set, every
// other call (the first included) fails with alt instead. It counts the
// calls of Close; the second Close of a TCP listener fails, as it does.
type hsScriptListener struct {
	net.Listener
	mu     sync.Mutex
	script []error
	alt    error
	flip   bool
	closes atomic.Int32
}

func (l *hsScriptListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	var err error
	switch {
	case len(l.script) > 0:
		err, l.script = l.script[0], l.script[1:]
	case l.alt != nil:
		l.flip = !l.flip
		if l.flip {
			err = l.alt
		}
	}
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return l.Listener.Accept()
}

func (l *hsScriptListener) Close() error {
	l.closes.Add(1)
	return l.Listener.Close()
}

// hsReporter is a supervisor that hands each handler error to a channel.
func hsReporter() (chan error, factory.ServeOption) {
	ch := make(chan error, 16)
	return ch, factory.WithHandlerScope(scheduler.Supervise(func(_ lazytask.Info, err error) { ch <- err }))
}

// --- clients that never send, send half a line, or sit idle ------------

// A client that never sends, one that sent half a line and one idle
// between lines: during the grace the half line can still be finished and
// echoed; when the grace ends, Shutdown cancels all three with ErrClosed,
// closes their connections and returns the grace context's cause.
func TestHostileServeGraceEndCancelsSilentHalfAndIdleClients(t *testing.T) {
	started, causes := make(chan struct{}, 3), make(chan error, 3)
	srv, err := factory.Start(listen(t), hsLines(started, causes))
	require.NoError(t, err, "Start")
	silent := dialBounded(t, srv.Addr())
	<-started
	half := dialBounded(t, srv.Addr())
	<-started
	_, err = io.WriteString(half.conn, "hal")
	require.NoError(t, err, "half a line")
	idle := dialBounded(t, srv.Addr())
	<-started
	idle.roundTrip("one line, then nothing")

	grace, over := context.WithCancelCause(bg)
	defer over(nil)
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(grace) }()
	awaitClosed(t, bounded(t), srv.Done(), "the accept loop stopped")
	half.send("f") // "hal"+"f\n": the half line completed during the grace
	line, err := half.r.ReadString('\n')
	require.NoError(t, err, "the half line's echo")
	assert.Equal(t, "half\n", line, "the half line's echo")
	assert.False(t, hsDone(shut), "Shutdown returned while the grace lasted and three handlers ran")

	errGraceOver := errors.New("grace over")
	over(errGraceOver)
	select {
	case err = <-shut:
	case <-bounded(t).Done():
		t.Fatal("Shutdown still waiting after the grace ended")
	}
	assert.ErrorIs(t, err, errGraceOver, "Shutdown: the grace context's cause")
	for name, c := range map[string]*client{"silent": silent, "half": half, "idle": idle} {
		assert.True(t, hsClosed(c), "the %s client's connection was closed", name)
	}
	for range 3 {
		assert.Equal(t, scheduler.ErrClosed, <-causes, "a canceled handler's context cause")
	}
	assert.Zero(t, srv.Handlers().Snapshot().Running, "handlers running after Shutdown")
}

// With enough grace, Shutdown stops accepting, waits for the handlers in
// flight and their large responses reach the clients whole, then EOF.
func TestHostileServeEnoughGraceDeliversInFlightResponsesIntact(t *testing.T) {
	const clients, size = 5, 256 << 10
	payload := func(id string) []byte { return bytes.Repeat([]byte(id+":"), size/(len(id)+1)) }
	g := newGate(t)
	var started sync.WaitGroup
	started.Add(clients)
	ln := listenSpy(t)
	srv, err := factory.Start(ln, func(_ context.Context, conn net.Conn) error {
		id, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			return err
		}
		started.Done()
		<-g.release // ignores the context: the grace is long enough
		_, err = conn.Write(payload(id[:len(id)-1]))
		return err
	})
	require.NoError(t, err, "Start")
	cs := make([]*client, clients)
	for i := range cs {
		cs[i] = dialBounded(t, srv.Addr())
		cs[i].send(strconv.Itoa(i))
	}
	started.Wait()

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(bounded(t)) }()
	awaitClosed(t, bounded(t), srv.Done(), "the accept loop stopped")
	assert.True(t, ln.isClosed(), "the listener is closed before the handlers end")
	assert.False(t, hsDone(shut), "Shutdown returned with %d handlers in flight", clients)
	g.open()
	for i, c := range cs {
		got, err := io.ReadAll(c.r) // to the EOF: the server closes once the handler returns
		require.NoError(t, err, "client %d: read the response", i)
		assert.True(t, bytes.Equal(payload(strconv.Itoa(i)), got), "client %d: response intact (%d bytes, want %d)", i, len(got), len(payload(strconv.Itoa(i))))
	}
	assert.NoError(t, <-shut, "Shutdown: everything finished in time")
}

// --- listeners that fail -------------------------------------------------

// Temporary errors around a real connection, then a permanent one: the
// loop logs and retries the temporary ones, stops at the permanent one,
// Shutdown returns it and closes the listener once even when called
// twice; a second Close by the owner fails as a TCP listener's does.
func TestHostileServeTemporaryThenPermanentAcceptErrorsAndDoubleClose(t *testing.T) {
	rec := recordDefaultLog(t)
	errBroken := errors.New("listener broken")
	ln := &hsScriptListener{Listener: listen(t), script: []error{
		timeoutError{}, acceptErrno(syscall.EMFILE), nil, acceptErrno(syscall.ECONNABORTED), errBroken,
	}}
	srv, err := factory.Start(ln, echo)
	require.NoError(t, err, "Start")
	c := dialBounded(t, srv.Addr())
	c.roundTrip("between the errors")
	awaitClosed(t, bounded(t), srv.Done(), "the accept loop stopped at the permanent error")
	c.roundTrip("still served after the loop stopped")
	require.NoError(t, c.conn.Close(), "client Close")

	assert.ErrorIs(t, srv.Shutdown(bounded(t)), errBroken, "Shutdown reports the permanent error")
	assert.ErrorIs(t, srv.Shutdown(bounded(t)), scheduler.ErrClosed, "second Shutdown")
	assert.Equal(t, int32(1), ln.closes.Load(), "Close calls by the server")
	assert.ErrorIs(t, ln.Close(), net.ErrClosed, "the owner's second Close")
	got := rec.acceptRetries()
	require.Len(t, got, 3, "retries logged: %+v", got)
	assert.ErrorIs(t, got[1].err, syscall.EMFILE, "second retry")
	assert.ErrorIs(t, got[2].err, syscall.ECONNABORTED, "third retry")
	assert.Equal(t, 5*time.Millisecond, got[2].retryIn, "the backoff restarts after a connection")
}

// At a cap of 1 (pausing), an Accept error before every connection: each
// error gives the slot back, so clients that queue in the backlog behind
// the running one are all served, one at a time.
func TestHostileServeAcceptErrorsAtTheCapGiveTheSlotBack(t *testing.T) {
	rec := recordDefaultLog(t)
	ln := &hsScriptListener{Listener: listen(t), alt: acceptErrno(syscall.ECONNRESET)}
	var running, peak atomic.Int32
	srv, err := factory.Start(ln, func(ctx context.Context, conn net.Conn) error {
		hsMax(&peak, running.Add(1))
		defer running.Add(-1)
		return echo(ctx, conn)
	}, factory.WithLimit(1))
	require.NoError(t, err, "Start")
	first := dialBounded(t, srv.Addr())
	first.roundTrip("first")
	waiting := make([]*client, 3) // in the backlog while first holds the slot
	for i := range waiting {
		waiting[i] = dialBounded(t, srv.Addr())
		waiting[i].send("queued " + strconv.Itoa(i))
	}
	require.NoError(t, first.conn.Close(), "first Close")
	for i, c := range waiting {
		got, err := c.r.ReadString('\n')
		require.NoError(t, err, "client %d's echo", i)
		assert.Equal(t, "queued "+strconv.Itoa(i)+"\n", got, "client %d's echo", i)
		require.NoError(t, c.conn.Close(), "client %d Close", i)
	}
	assert.NoError(t, srv.Shutdown(bounded(t)), "Shutdown")
	assert.Equal(t, int32(1), peak.Load(), "handlers at once")
	// An error before each of the four connections, and maybe one more
	// when the loop took the slot back after the last one.
	assert.Contains(t, []int{4, 5}, len(rec.acceptRetries()), "accept retries logged")
}

// At a cap of 1 with QueueWhenFull, one handler running and one queued,
// then a permanent Accept error: Serve drains both (the queued one runs
// and is served) and only then returns the listener's error.
func TestHostileServePermanentAcceptErrorAtTheCapDrainsTheQueue(t *testing.T) {
	hooks, withHooks := newHookLog()
	errBroken := errors.New("listener broken")
	ln := &hsScriptListener{Listener: listen(t), script: []error{nil, nil, errBroken}}
	g := newGate(t)
	var n atomic.Int32
	served := make(chan error, 1)
	go func() {
		served <- factory.Serve(bounded(t), ln, func(ctx context.Context, conn net.Conn) error {
			if n.Add(1) == 1 {
				<-g.release
			}
			return echo(ctx, conn)
		}, factory.WithLimit(1), factory.QueueWhenFull(), withHooks)
	}()
	c1 := dialBounded(t, ln.Addr())
	c1.send("one")
	<-hooks.queued
	c2 := dialBounded(t, ln.Addr())
	c2.send("two")
	<-hooks.queued
	// Serve closes the listener once the loop has stopped at the error.
	waitFor(t, "the loop stopped with one handler running", func() bool { return ln.closes.Load() == 1 && n.Load() == 1 })
	assert.False(t, hsDone(served), "Serve returned with a handler running and one queued")
	g.open()
	got, err := c1.r.ReadString('\n')
	require.NoError(t, err, "c1's echo")
	assert.Equal(t, "one\n", got, "c1's echo")
	require.NoError(t, c1.conn.Close(), "c1 Close")
	got, err = c2.r.ReadString('\n')
	require.NoError(t, err, "c2, queued when the listener broke, is served")
	assert.Equal(t, "two\n", got, "c2's echo")
	require.NoError(t, c2.conn.Close(), "c2 Close")
	select {
	case err = <-served:
	case <-bounded(t).Done():
		t.Fatal("Serve still running after both handlers ended")
	}
	assert.ErrorIs(t, err, errBroken, "Serve returns the listener's error")
	assert.Equal(t, int32(2), n.Load(), "handlers that ran")
}

// The listener closed by someone else while a connection is in flight:
// the accept loop stops with net.ErrClosed, the connection goes on until
// its client leaves, and Shutdown reports the error (goleak checks that
// nothing is left behind).
func TestHostileServeListenerClosedBySomeoneElse(t *testing.T) {
	inner := listen(t)
	srv, err := factory.Start(inner, echo)
	require.NoError(t, err, "Start")
	c := dialBounded(t, srv.Addr())
	c.roundTrip("before")
	require.NoError(t, inner.Close(), "someone else closes the listener")
	awaitClosed(t, bounded(t), srv.Done(), "the accept loop stopped")
	c.roundTrip("the connection in flight still works")
	require.NoError(t, c.conn.Close(), "client Close")
	err = srv.Shutdown(bounded(t))
	assert.ErrorIs(t, err, net.ErrClosed, "Shutdown says why accepting stopped")
}

// The same for HTTP: srv.Serve fails with net.ErrClosed, the request in
// flight still gets its whole response, and Shutdown reports the error.
func TestHostileServeHTTPListenerClosedBySomeoneElse(t *testing.T) {
	inner := listen(t)
	g := newGate(t)
	srv, err := factory.StartHTTP(inner, &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.wait()
		fmt.Fprint(w, "finished")
	})})
	require.NoError(t, err, "StartHTTP")
	inFlight := goGet(bounded(t), httpClient(t), "http://"+srv.Addr().String())
	<-g.started
	require.NoError(t, inner.Close(), "someone else closes the listener")
	awaitClosed(t, bounded(t), srv.Done(), "srv.Serve returned")
	g.open()
	r := <-inFlight
	require.NoError(t, r.err, "the request in flight")
	assert.Equal(t, "finished", r.body, "the request in flight")
	assert.ErrorIs(t, srv.Shutdown(bounded(t)), net.ErrClosed, "Shutdown says why serving stopped")
}

// --- a cap of 1 under a burst --------------------------------------------

// Twenty clients at once against a cap of 1, pausing and queueing: at most
// one handler runs at a time, and every client gets its own answer.
func TestHostileServeCapOneTwentyClientsAllServedOneAtATime(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []factory.ServeOption
	}{
		{"pause at the cap", nil},
		{"QueueWhenFull", []factory.ServeOption{factory.QueueWhenFull()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const clients = 20
			var running, peak, handled atomic.Int32
			srv, err := factory.Start(listen(t), func(_ context.Context, conn net.Conn) error {
				hsMax(&peak, running.Add(1))
				defer running.Add(-1)
				handled.Add(1)
				line, err := bufio.NewReader(conn).ReadString('\n')
				if err != nil {
					return err
				}
				_, err = io.WriteString(conn, "ok "+line)
				return err
			}, append(tc.opts, factory.WithLimit(1))...)
			require.NoError(t, err, "Start")
			addr := srv.Addr().String()
			got := make([]string, clients)
			errs := make([]error, clients)
			var wg sync.WaitGroup
			go1 := make(chan struct{})
			for i := range clients {
				wg.Go(func() {
					<-go1
					conn, err := net.Dial("tcp", addr)
					if err != nil {
						errs[i] = err
						return
					}
					defer conn.Close()
					_ = conn.SetDeadline(time.Now().Add(hsGuard))
					if _, err := fmt.Fprintf(conn, "%d\n", i); err != nil {
						errs[i] = err
						return
					}
					got[i], errs[i] = bufio.NewReader(conn).ReadString('\n')
				})
			}
			close(go1)
			wg.Wait()
			for i := range clients {
				if assert.NoError(t, errs[i], "client %d", i) {
					assert.Equal(t, fmt.Sprintf("ok %d\n", i), got[i], "client %d's answer", i)
				}
			}
			assert.NoError(t, srv.Shutdown(bounded(t)), "Shutdown")
			assert.Equal(t, int32(1), peak.Load(), "handlers at once")
			assert.Equal(t, int32(clients), handled.Load(), "handlers that ran")
		})
	}
}

// Paused at a cap of 1 (a client waits in the backlog), Shutdown does not
// wait for the slot: the loop stops at once, the waiting client's
// connection is dropped with the listener and never handled, and the
// running handler finishes during the grace.
func TestHostileServeShutdownWhilePausedAtTheCap(t *testing.T) {
	g := newGate(t)
	var handled atomic.Int32
	srv, err := factory.Start(listen(t), func(ctx context.Context, conn net.Conn) error {
		handled.Add(1)
		if err := g.waitCtx(ctx); err != nil {
			return err
		}
		_, err := io.WriteString(conn, "done\n")
		return err
	}, factory.WithLimit(1))
	require.NoError(t, err, "Start")
	running := dialBounded(t, srv.Addr())
	<-g.started
	backlog := dialBounded(t, srv.Addr()) // the kernel accepted it; the server cannot yet
	backlog.send("anyone there?")

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(bounded(t)) }()
	awaitClosed(t, bounded(t), srv.Done(), "the accept loop, paused at the cap, stopped")
	assert.True(t, hsClosed(backlog), "the backlog client's connection was dropped")
	assert.False(t, hsDone(shut), "Shutdown returned with a handler running")
	g.open()
	got, err := running.r.ReadString('\n')
	require.NoError(t, err, "the running client's answer")
	assert.Equal(t, "done\n", got, "the running client's answer")
	assert.NoError(t, <-shut, "Shutdown: the grace never ended")
	assert.Equal(t, int32(1), handled.Load(), "handlers that ran")
}

// --- handlers that misbehave ---------------------------------------------

// A handler that panics (with an error, then with a string): its task
// fails with a *PanicError carrying the value, its connection is closed,
// and the server goes on serving.
func TestHostileServeHandlerPanicIsReportedAndTheServerGoesOn(t *testing.T) {
	errBoom := errors.New("boom")
	reported, withReporter := hsReporter()
	srv, err := factory.Start(listen(t), func(ctx context.Context, conn net.Conn) error {
		r := bufio.NewReader(conn)
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		switch line {
		case "panic error\n":
			panic(errBoom)
		case "panic string\n":
			panic("boom string")
		}
		_, err = io.WriteString(conn, line)
		return err
	}, withReporter)
	require.NoError(t, err, "Start")

	for _, tc := range []struct {
		line string
		want any
	}{{"panic error", errBoom}, {"panic string", "boom string"}} {
		c := dialBounded(t, srv.Addr())
		c.send(tc.line)
		assert.True(t, hsClosed(c), "%s: the connection was closed", tc.line)
		err := <-reported
		pe, ok := errors.AsType[*lazytask.PanicError](err)
		if assert.True(t, ok, "%s: reported %v; want a *PanicError", tc.line, err) {
			assert.Equal(t, tc.want, pe.Value, "%s: the panic value", tc.line)
		}
		if e, isErr := tc.want.(error); isErr {
			assert.ErrorIs(t, err, e, "%s: the error unwraps to the panic value", tc.line)
		}
	}
	c := dialBounded(t, srv.Addr())
	c.roundTrip("after two panics")
	require.NoError(t, c.conn.Close(), "client Close")
	assert.NoError(t, srv.Shutdown(bounded(t)), "Shutdown")
	assert.Empty(t, reported, "errors reported beyond the two panics")
}

// A handler that calls runtime.Goexit: its task fails with ErrGoexit, its
// connection is closed, and the server goes on serving.
func TestHostileServeHandlerGoexitIsReportedAndTheServerGoesOn(t *testing.T) {
	reported, withReporter := hsReporter()
	var calls atomic.Int32
	srv, err := factory.Start(listen(t), func(ctx context.Context, conn net.Conn) error {
		if calls.Add(1) == 1 {
			runtime.Goexit()
		}
		return echo(ctx, conn)
	}, withReporter)
	require.NoError(t, err, "Start")
	c := dialBounded(t, srv.Addr())
	assert.ErrorIs(t, <-reported, lazytask.ErrGoexit, "the reported error")
	assert.True(t, hsClosed(c), "the connection was closed")
	c2 := dialBounded(t, srv.Addr())
	c2.roundTrip("after a Goexit")
	require.NoError(t, c2.conn.Close(), "client Close")
	assert.NoError(t, srv.Shutdown(bounded(t)), "Shutdown")
	assert.Zero(t, srv.Handlers().Snapshot().Running, "handlers running after Shutdown")
}

// A handler that ignores its context and its closed connection: past the
// grace Shutdown cancels it and closes its connection, then waits for it
// as documented; its late error ends the task Canceled, wrapped with
// ErrClosed.
func TestHostileServeShutdownWaitsForAHandlerThatIgnoresCancellation(t *testing.T) {
	hooks, withHooks := newHookLog()
	errLate := errors.New("late failure")
	g := newGate(t)
	var returned atomic.Bool
	srv, err := factory.Start(listen(t), func(ctx context.Context, conn net.Conn) error {
		g.wait() // ignores ctx and conn
		returned.Store(true)
		return errLate
	}, withHooks)
	require.NoError(t, err, "Start")
	c := dialBounded(t, srv.Addr())
	<-g.started

	grace, over := context.WithCancelCause(bg)
	errGraceOver := errors.New("grace over")
	over(errGraceOver)
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(grace) }()
	assert.True(t, hsClosed(c), "the stubborn handler's connection was closed at the grace's end")
	assert.False(t, hsDone(shut), "Shutdown returned while the handler still ran")
	g.open()
	assert.ErrorIs(t, <-shut, errGraceOver, "Shutdown")
	assert.True(t, returned.Load(), "Shutdown returned after the handler")
	info := <-hooks.done
	assert.Equal(t, lazytask.Canceled, info.State, "the task's state")
	assert.ErrorIs(t, info.Err, scheduler.ErrClosed, "the task's error: the cause")
	assert.ErrorIs(t, info.Err, errLate, "the task's error: the handler's")
}

// --- misuse ------------------------------------------------------------

// Bad calls return sentinel errors at once and close the listener they
// were given: nil listener or handler, a closed listener, the listener of
// a server already gone, an ended context, a closed, canceled or shut-down
// WithScope.
func TestHostileServeMisuseReturnsSentinelErrorsWithoutHanging(t *testing.T) {
	noop := func(context.Context, net.Conn) error { return nil }
	closedLn := func(t *testing.T) net.Listener {
		ln := listen(t)
		require.NoError(t, ln.Close(), "Close")
		return ln
	}
	ended, cancel := context.WithCancel(bg)
	cancel()

	t.Run("nil listener", func(t *testing.T) {
		_, err := factory.Start(nil, noop)
		assert.ErrorIs(t, err, scheduler.ErrInvalidOption, "Start")
		assert.ErrorIs(t, factory.Serve(bounded(t), nil, noop), scheduler.ErrInvalidOption, "Serve")
		assert.ErrorIs(t, factory.Serve(bounded(t), nil, nil), lazytask.ErrNilFunc, "Serve(nil, nil)")
		_, err = factory.StartHTTP(nil, &http.Server{})
		assert.ErrorIs(t, err, scheduler.ErrInvalidOption, "StartHTTP")
		assert.ErrorIs(t, factory.ServeHTTP(bounded(t), nil, &http.Server{}), scheduler.ErrInvalidOption, "ServeHTTP")
	})
	t.Run("nil handler", func(t *testing.T) {
		ln := listenSpy(t)
		assert.ErrorIs(t, factory.Serve(bounded(t), ln, nil), lazytask.ErrNilFunc, "Serve")
		assert.True(t, ln.isClosed(), "the listener is closed")
		ln = listenSpy(t)
		assert.ErrorIs(t, factory.ServeHTTP(bounded(t), ln, nil), scheduler.ErrInvalidOption, "ServeHTTP(nil server)")
		assert.True(t, ln.isClosed(), "the listener is closed")
	})
	t.Run("closed listener", func(t *testing.T) {
		assert.ErrorIs(t, factory.Serve(bounded(t), closedLn(t), noop), net.ErrClosed, "Serve")
		assert.ErrorIs(t, factory.ServeHTTP(bounded(t), closedLn(t), &http.Server{}), net.ErrClosed, "ServeHTTP")
	})
	t.Run("Serve twice on one listener", func(t *testing.T) {
		ctx, stop := context.WithCancel(bg)
		ln := listen(t)
		served := make(chan error, 1)
		go func() { served <- factory.Serve(ctx, ln, echo) }()
		c := dialBounded(t, ln.Addr())
		c.roundTrip("first Serve")
		require.NoError(t, c.conn.Close(), "client Close")
		stop()
		require.NoError(t, <-served, "first Serve")
		assert.ErrorIs(t, factory.Serve(bounded(t), ln, echo), net.ErrClosed, "second Serve: the first closed the listener")
	})
	t.Run("ended context", func(t *testing.T) {
		ln := listenSpy(t)
		assert.NoError(t, factory.Serve(ended, ln, noop), "Serve: nothing to drain")
		assert.True(t, ln.isClosed(), "the listener is closed")
		ln = listenSpy(t)
		assert.NoError(t, factory.ServeHTTP(ended, ln, &http.Server{}), "ServeHTTP: nothing to drain")
		assert.True(t, ln.isClosed(), "the listener is closed")
	})
	for _, tc := range []struct {
		name string
		sp   func(t *testing.T) scheduler.Spawner
		want error
	}{
		{"closed scope", func(t *testing.T) scheduler.Spawner {
			sc, err := newScheduler(t).Root().NewScope()
			require.NoError(t, err, "NewScope")
			require.NoError(t, sc.Shutdown(bounded(t)), "scope Shutdown")
			return sc
		}, scheduler.ErrClosed},
		{"canceled scope", func(t *testing.T) scheduler.Spawner {
			sc, err := newScheduler(t).Root().NewScope()
			require.NoError(t, err, "NewScope")
			sc.Cancel(nil)
			return sc
		}, scheduler.ErrScopeCanceled},
		{"shut-down scheduler", func(t *testing.T) scheduler.Spawner {
			s := newScheduler(t)
			require.NoError(t, s.Shutdown(bounded(t)), "scheduler Shutdown")
			return s
		}, scheduler.ErrClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := tc.sp(t)
			ln := listenSpy(t)
			assert.ErrorIs(t, factory.Serve(bounded(t), ln, noop, factory.WithScope(sp)), tc.want, "Serve")
			assert.True(t, ln.isClosed(), "Serve closed the listener")
			ln = listenSpy(t)
			_, err := factory.StartHTTP(ln, &http.Server{}, factory.WithScope(sp))
			assert.ErrorIs(t, err, tc.want, "StartHTTP")
			assert.True(t, ln.isClosed(), "StartHTTP closed the listener")
		})
	}
}

// --- HTTP ----------------------------------------------------------------

type hsKey string

// rawHTTP is a raw client of an HTTP server: it writes what it is told.
func rawHTTP(t *testing.T, addr net.Addr, req string) *client {
	t.Helper()
	c := dialBounded(t, addr)
	_, err := io.WriteString(c.conn, req)
	require.NoError(t, err, "write the request")
	return c
}

// An idle keep-alive connection is closed as soon as Shutdown begins; a
// connection with half a request, and one that never sent a byte, hold it
// until the grace ends, then are closed, and Shutdown returns the grace
// context's cause.
//
// Shutdown begins only once the server has accepted both (ConnState's
// StateNew): a connection the kernel completed but the server had not yet
// accepted is not the server's to wait for, and closing the listener
// resets it (a flake under load, 2026-12-06).
func TestHostileServeHTTPIdleHalfAndSilentConnectionsAtShutdown(t *testing.T) {
	accepted := make(chan string, 8)
	srv, err := factory.StartHTTP(listen(t), &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "pong")
		}),
		ConnState: func(c net.Conn, st http.ConnState) {
			if st == http.StateNew {
				accepted <- c.RemoteAddr().String()
			}
		},
	})
	require.NoError(t, err, "StartHTTP")
	idle := rawHTTP(t, srv.Addr(), "GET /ping HTTP/1.1\r\nHost: test\r\n\r\n")
	resp, err := http.ReadResponse(idle.r, nil)
	require.NoError(t, err, "the idle client's response")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "the idle client's body")
	assert.Equal(t, "pong", string(body), "the idle client's body")
	silent := dialBounded(t, srv.Addr())
	half := rawHTTP(t, srv.Addr(), "GET /ping HTTP/1.1\r\nHost: te")
	want := map[string]bool{idle.conn.LocalAddr().String(): true, silent.conn.LocalAddr().String(): true, half.conn.LocalAddr().String(): true}
	guard := bounded(t)
	for len(want) > 0 {
		select {
		case a := <-accepted:
			delete(want, a)
		case <-guard.Done():
			t.Fatalf("the server never accepted %v", want)
		}
	}

	grace, over := context.WithCancelCause(bg)
	defer over(nil)
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(grace) }()
	assert.True(t, hsClosed(idle), "the idle keep-alive connection was closed when Shutdown began")
	assert.False(t, hsDone(shut), "Shutdown returned with a request half read")
	errGraceOver := errors.New("grace over")
	over(errGraceOver)
	select {
	case err = <-shut:
	case <-bounded(t).Done():
		t.Fatal("Shutdown still waiting after the grace ended")
	}
	assert.ErrorIs(t, err, errGraceOver, "Shutdown: the grace context's cause")
	assert.True(t, hsClosed(half), "the half request's connection was closed")
	assert.True(t, hsClosed(silent), "the silent connection was closed")
}

// A client that disconnects while its handler runs: the handler's
// context is canceled (by net/http, through the request's context), the
// task ends, and the server is left idle.
func TestHostileServeHTTPClientGoneMidHandlerCancelsItsContext(t *testing.T) {
	hooks, withHooks := newHookLog()
	started := make(chan struct{})
	cause := make(chan error, 1)
	srv, err := factory.StartHTTP(listen(t), &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			cause <- context.Cause(r.Context())
		case <-time.After(hsGuard): // a hang guard
			cause <- errors.New("the request's context was never canceled")
		}
	})}, withHooks)
	require.NoError(t, err, "StartHTTP")
	c := rawHTTP(t, srv.Addr(), "GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
	<-started
	require.NoError(t, c.conn.Close(), "the client goes away")
	assert.ErrorIs(t, <-cause, context.Canceled, "the handler's context cause")
	info := <-hooks.done
	assert.Equal(t, "GET /slow", info.Name, "the request's task")
	assert.NoError(t, srv.Shutdown(bounded(t)), "Shutdown: nothing in flight")
}

// The request's values (a ConnContext value, a middleware's value) reach
// the tasks a handler fans out with the request's context, on the handler
// scope itself at a cap of 1: the request lends its slot, the subtasks run
// one at a time, and the hooks see the values too.
func TestHostileServeHTTPRequestValuesReachTheTasksItSubmits(t *testing.T) {
	var srvp atomic.Pointer[factory.Server]
	var running, peak atomic.Int32
	seen := make(chan string, 8)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaf := func(ctx context.Context) (string, error) {
			hsMax(&peak, running.Add(1))
			defer running.Add(-1)
			return fmt.Sprintf("%v/%v", ctx.Value(hsKey("conn")), ctx.Value(hsKey("req"))), nil
		}
		vals, err := factory.Gather(r.Context(), srvp.Load().Handlers(), leaf, leaf, leaf)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, vals)
	})
	hs := &http.Server{
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, hsKey("conn"), "conn-7")
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inner.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), hsKey("req"), "req-42")))
		}),
	}
	srv, err := factory.StartHTTP(listen(t), hs, factory.WithLimit(1),
		factory.WithHandlerScope(scheduler.WithHooks(scheduler.Hooks{
			OnStart: func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) context.Context {
				seen <- fmt.Sprint(ctx.Value(hsKey("conn")))
				return nil
			},
		})))
	require.NoError(t, err, "StartHTTP")
	srvp.Store(srv)
	r := get(bounded(t), httpClient(t), "http://"+srv.Addr().String()+"/fan")
	require.NoError(t, r.err, "GET")
	assert.Equal(t, http.StatusOK, r.status, "status (body %q)", r.body)
	assert.Equal(t, "[conn-7/req-42 conn-7/req-42 conn-7/req-42]", r.body, "the values the subtasks saw")
	assert.Equal(t, int32(1), peak.Load(), "subtasks at once at the cap of 1")
	require.NoError(t, srv.Shutdown(bounded(t)), "Shutdown")
	close(seen)
	var hooked []string
	for v := range seen {
		hooked = append(hooked, v)
	}
	assert.Equal(t, []string{"conn-7", "conn-7", "conn-7", "conn-7"}, hooked, "what OnStart saw: the request and its three subtasks")
}

// A server started from inside a task whose http.Server's BaseContext is
// that task's context (to pass its values to the requests): the request's
// context must still name the request's task (lazytask.HandleOf), or a
// combinator called with it believes it runs in the outer task, does not
// lend the request's slot, and deadlocks at the cap.
func TestHostileServeHTTPBaseContextFromATaskKeepsTheRequestsHandle(t *testing.T) {
	// Cap 2: outer holds one slot for the server's life, the request's
	// task needs the other (the default cap, GOMAXPROCS, is 1 on one CPU,
	// where the request queued behind outer for good).
	s := newScheduler(t, scheduler.WithLimit(2))
	ln := listen(t)
	var srvp atomic.Pointer[factory.Server]
	type seenT struct {
		handle string
		err    error
	}
	seen := make(chan seenT, 1)
	ready := make(chan struct{})
	shutCtx := bounded(t)
	shutErr := make(chan error, 1)
	outer, err := scheduler.Go(s, func(ctx context.Context) error {
		srv, err := factory.StartHTTP(ln, &http.Server{
			BaseContext: func(net.Listener) context.Context { return ctx },
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var name string
				if h := lazytask.HandleOf(r.Context()); h != nil {
					name = h.Options().Name
				}
				// A guard: when the handle is right this returns at once.
				gctx, cancel := context.WithTimeout(r.Context(), 500*time.Millisecond)
				defer cancel()
				_, err := factory.Gather(gctx, srvp.Load().Handlers(), func(context.Context) (int, error) { return 1, nil })
				seen <- seenT{name, err}
			}),
		}, factory.WithScope(s), factory.WithLimit(1))
		if err != nil {
			return err
		}
		srvp.Store(srv)
		close(ready)
		<-ctx.Done()
		shutErr <- srv.Shutdown(shutCtx)
		return nil
	}, lazytask.WithName("outer"))
	require.NoError(t, err, "Go(outer)")
	awaitClosed(t, bounded(t), ready, "the server started")
	r := get(bounded(t), httpClient(t), "http://"+ln.Addr().String()+"/x")
	var got seenT
	select {
	case got = <-seen:
	case <-bounded(t).Done():
		outer.Cancel(nil)
		t.Fatalf("the handler never ran (GET: %v; stats %+v)", r.err, s.Stats())
	}
	outer.Cancel(nil)
	assert.NoError(t, <-shutErr, "the server's Shutdown")
	_ = outer.Wait(bounded(t))
	require.NoError(t, r.err, "GET")
	assert.Equal(t, "GET /x", got.handle, "lazytask.HandleOf(r.Context())")
	assert.NoError(t, got.err, "Gather on the handler scope at its cap of 1")
}

// http.Server.Shutdown and the Server's Shutdown, in either order, with a
// request in flight: both return nil and the request's response arrives
// whole.
func TestHostileServeHTTPBothShutdownsInEitherOrder(t *testing.T) {
	for _, httpFirst := range []bool{true, false} {
		name := map[bool]string{true: "http.Server.Shutdown first", false: "Server.Shutdown first"}[httpFirst]
		t.Run(name, func(t *testing.T) {
			g := newGate(t)
			body := bytes.Repeat([]byte("x"), 64<<10)
			hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				g.wait()
				_, _ = w.Write(body)
			})}
			srv, err := factory.StartHTTP(listen(t), hs)
			require.NoError(t, err, "StartHTTP")
			inFlight := goGet(bounded(t), httpClient(t), "http://"+srv.Addr().String())
			<-g.started
			httpDone, srvDone := make(chan error, 1), make(chan error, 1)
			shutHTTP := func() { go func() { httpDone <- hs.Shutdown(bounded(t)) }() }
			shutSrv := func() { go func() { srvDone <- srv.Shutdown(bounded(t)) }() }
			if httpFirst {
				shutHTTP()
				awaitClosed(t, bounded(t), srv.Done(), "srv.Serve returned")
				shutSrv()
			} else {
				shutSrv()
				awaitClosed(t, bounded(t), srv.Done(), "srv.Serve returned")
				shutHTTP()
			}
			assert.False(t, hsDone(srvDone), "Server.Shutdown returned with a request in flight")
			g.open()
			r := <-inFlight
			require.NoError(t, r.err, "the request in flight")
			assert.Equal(t, len(body), len(r.body), "the response's length")
			assert.NoError(t, <-httpDone, "http.Server.Shutdown")
			assert.NoError(t, <-srvDone, "Server.Shutdown")
		})
	}
}

// An HTTP handler that calls runtime.Goexit: its task fails with
// ErrGoexit; net/http, whose handler goroutine would have exited, closes
// the connection without a response, so the client sees an error, not a
// success.
func TestHostileServeHTTPHandlerGoexitAbortsTheResponse(t *testing.T) {
	reported, withReporter := hsReporter()
	srv, err := factory.StartHTTP(listen(t), &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runtime.Goexit()
	})}, withReporter)
	require.NoError(t, err, "StartHTTP")
	r := get(bounded(t), httpClient(t), "http://"+srv.Addr().String()+"/exit")
	assert.ErrorIs(t, <-reported, lazytask.ErrGoexit, "the reported error")
	require.NoError(t, srv.Shutdown(bounded(t)), "Shutdown")
	assert.Error(t, r.err, "GET: the response was aborted (status %d)", r.status)
}
