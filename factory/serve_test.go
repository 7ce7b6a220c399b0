package factory_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "net.Listen")
	return ln
}

// spyListener records that it was closed. (Dialing a closed port to check
// would not do: on a shared machine another program may listen there by
// then.)
type spyListener struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func listenSpy(t *testing.T) *spyListener {
	return &spyListener{Listener: listen(t), closed: make(chan struct{})}
}

func (l *spyListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func (l *spyListener) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// client is a test's end of a TCP connection.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr net.Addr) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr.String())
	require.NoError(t, err, "net.Dial(%v)", addr)
	t.Cleanup(func() { _ = conn.Close() })
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (c *client) send(line string) {
	c.t.Helper()
	_, err := io.WriteString(c.conn, line+"\n")
	require.NoError(c.t, err, "write %q", line)
}

// roundTrip sends a line and reads the echo.
func (c *client) roundTrip(line string) {
	c.t.Helper()
	c.send(line)
	got, err := c.r.ReadString('\n')
	require.NoError(c.t, err, "read the echo of %q", line)
	require.Equal(c.t, line+"\n", got, "echo")
}

// closedByServer reports whether the server closed the connection: a read
// gets EOF (or a reset).
func (c *client) closedByServer() bool {
	_, err := c.r.ReadByte()
	return err != nil
}

// echo copies lines back until the client closes the connection; it
// ignores its context, as a careless handler would.
func echo(_ context.Context, conn net.Conn) error {
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := io.WriteString(conn, line); err != nil {
			return err
		}
	}
}

// hookLog collects what the handler scope's hooks see.
type hookLog struct {
	queued chan lazytask.Handle
	done   chan lazytask.Info
}

func newHookLog() (*hookLog, factory.ServeOption) {
	h := &hookLog{queued: make(chan lazytask.Handle, 16), done: make(chan lazytask.Info, 16)}
	return h, factory.WithHandlerScope(scheduler.WithHooks(scheduler.Hooks{
		OnQueue: func(_ context.Context, _ *scheduler.Scope, t lazytask.Handle) { h.queued <- t },
		OnDone:  func(_ context.Context, _ *scheduler.Scope, t lazytask.Handle) { h.done <- t.Info() },
	}))
}

func TestServeEchoesOverARealSocket(t *testing.T) {
	srv, err := factory.Start(listen(t), echo)
	require.NoError(t, err, "Start")
	c := dial(t, srv.Addr())
	c.roundTrip("hello")
	c.roundTrip("again")
	require.NoError(t, c.conn.Close(), "client Close")
	assert.NoError(t, srv.Shutdown(bounded(t)), "Shutdown")
}

func TestServeQueueWhenFullAcceptsAndQueuesBeyondTheCap(t *testing.T) {
	hooks, withHooks := newHookLog()
	srv, err := factory.Start(listen(t), echo, factory.WithLimit(1), factory.QueueWhenFull(), withHooks)
	require.NoError(t, err, "Start")
	c1 := dial(t, srv.Addr())
	c1.roundTrip("one") // c1's handler holds the only slot
	<-hooks.queued
	c2 := dial(t, srv.Addr())
	c2.send("two")
	<-hooks.queued // accepted although the cap is reached
	waitFor(t, "one handler running and one queued", func() bool {
		snap := srv.Handlers().Snapshot()
		return snap.Running == 1 && snap.Queued == 1
	})

	require.NoError(t, c1.conn.Close(), "c1 Close") // frees the slot
	got, err := c2.r.ReadString('\n')
	require.NoError(t, err, "c2's echo")
	assert.Equal(t, "two\n", got, "c2's echo")
	require.NoError(t, c2.conn.Close(), "c2 Close")
	assert.NoError(t, srv.Shutdown(bounded(t)), "Shutdown")
}

func TestShutdownStopsAcceptingFirstAndDrainsConnectionsInFlight(t *testing.T) {
	ln := listenSpy(t)
	srv, err := factory.Start(ln, echo)
	require.NoError(t, err, "Start")
	c := dial(t, srv.Addr())
	c.roundTrip("before")

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(bounded(t)) }()
	awaitClosed(t, bounded(t), srv.Done(), "the accept loop stopped")
	assert.True(t, ln.isClosed(), "the listener is closed once the accept loop has stopped")

	c.roundTrip("during the drain") // the connection in flight still works
	require.NoError(t, c.conn.Close(), "client Close")
	assert.NoError(t, <-shut, "Shutdown once the connection finished")
}

func TestShutdownAfterTheGraceCancelsStragglersAndClosesTheirConnections(t *testing.T) {
	hooks, withHooks := newHookLog()
	var cause atomic.Value
	srv, err := factory.Start(listen(t), func(ctx context.Context, conn net.Conn) error {
		err := echo(ctx, conn) // blocks in Read until the server closes conn
		cause.Store(context.Cause(ctx))
		return err
	}, withHooks)
	require.NoError(t, err, "Start")
	c := dial(t, srv.Addr())
	c.roundTrip("straggler")

	grace, over := context.WithCancelCause(bg)
	errGraceOver := errors.New("grace over")
	over(errGraceOver)
	err = srv.Shutdown(grace)
	assert.ErrorIs(t, err, errGraceOver, "Shutdown's error")
	assert.True(t, c.closedByServer(), "the straggler's connection was closed")
	assert.Equal(t, scheduler.ErrClosed, cause.Load(), "the straggler's context cause")
	info := <-hooks.done
	assert.Equal(t, lazytask.Canceled, info.State, "the straggler's task state")
	assert.ErrorIs(t, info.Err, scheduler.ErrClosed, "the straggler's task error")
}

func TestShutdownClosesQueuedConnectionsThatNeverRan(t *testing.T) {
	hooks, withHooks := newHookLog()
	var handled atomic.Int32
	srv, err := factory.Start(listen(t), func(ctx context.Context, conn net.Conn) error {
		handled.Add(1)
		return echo(ctx, conn)
	}, factory.WithLimit(1), factory.QueueWhenFull(), withHooks)
	require.NoError(t, err, "Start")
	c1 := dial(t, srv.Addr())
	c1.roundTrip("running")
	<-hooks.queued
	c2 := dial(t, srv.Addr())
	<-hooks.queued

	grace, over := context.WithCancel(bg)
	over()
	assert.ErrorIs(t, srv.Shutdown(grace), context.Canceled, "Shutdown's error")
	assert.True(t, c2.closedByServer(), "the queued connection was closed")
	assert.Equal(t, int32(1), handled.Load(), "handlers that ran")
	states := map[lazytask.State]int{}
	for range 2 {
		states[(<-hooks.done).State]++
	}
	assert.Equal(t, map[lazytask.State]int{lazytask.Canceled: 2}, states, "the tasks' end states")
}

func TestSecondShutdownCancelsAtOnce(t *testing.T) {
	srv, err := factory.Start(listen(t), echo)
	require.NoError(t, err, "Start")
	c := dial(t, srv.Addr())
	c.roundTrip("stuck")
	first := make(chan error, 1)
	go func() { first <- srv.Shutdown(bg) }() // no grace limit: waits for c
	awaitClosed(t, bounded(t), srv.Done(), "the first Shutdown began")
	assert.ErrorIs(t, srv.Shutdown(bg), scheduler.ErrClosed, "second Shutdown")
	assert.True(t, c.closedByServer(), "the connection was closed")
	assert.NoError(t, <-first, "first Shutdown: its grace never ended")
}

func TestHandlerErrorsGoToTheHandlerScopePolicy(t *testing.T) {
	errBad := errors.New("bad request")
	reported := make(chan error, 1)
	srv, err := factory.Start(listen(t), func(context.Context, net.Conn) error { return errBad },
		factory.WithHandlerScope(scheduler.Supervise(func(_ lazytask.Info, err error) { reported <- err })))
	require.NoError(t, err, "Start")
	c := dial(t, srv.Addr())
	assert.Equal(t, errBad, <-reported, "the error the supervisor got")
	assert.True(t, c.closedByServer(), "the failed handler's connection was closed")
	assert.NoError(t, srv.Shutdown(bounded(t)), "Shutdown: a supervisor keeps no errors")
}

func TestServeWithAFailFastHandlerScopeStopsAtTheFirstError(t *testing.T) {
	errBad := errors.New("bad request")
	ln := listenSpy(t)
	served := make(chan error, 1)
	go func() {
		served <- factory.Serve(bg, ln, func(context.Context, net.Conn) error { return errBad },
			factory.WithHandlerScope(scheduler.FailFast()))
	}()
	dial(t, ln.Addr())
	err := <-served
	assert.ErrorIs(t, err, errBad, "Serve's error")
	assert.True(t, ln.isClosed(), "the listener is closed")
}

func TestServeReturnsNilAfterACleanDrain(t *testing.T) {
	ctx, cancel := context.WithCancel(bg)
	ln := listen(t)
	served := make(chan error, 1)
	go func() { served <- factory.Serve(ctx, ln, echo) }()
	c := dial(t, ln.Addr())
	c.roundTrip("hi")
	cancel()
	c.roundTrip("still served during the grace period")
	require.NoError(t, c.conn.Close(), "client Close")
	assert.NoError(t, <-served, "Serve")
}

func TestServeReturnsErrGraceExpiredWhenStragglersAreCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(bg)
	ln := listen(t)
	served := make(chan error, 1)
	go func() { served <- factory.Serve(ctx, ln, echo, factory.WithGrace(0)) }()
	c := dial(t, ln.Addr())
	c.roundTrip("hi")
	cancel()
	assert.ErrorIs(t, <-served, factory.ErrGraceExpired, "Serve")
	assert.True(t, c.closedByServer(), "the straggler's connection was closed")
}

// flakyListener fails its first Accept calls with the errors it is given.
type flakyListener struct {
	net.Listener
	mu   sync.Mutex
	errs []error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "accept: timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestServeRetriesTemporaryAcceptErrors(t *testing.T) {
	ln := &flakyListener{Listener: listen(t), errs: []error{timeoutError{}, timeoutError{}}}
	srv, err := factory.Start(ln, echo)
	require.NoError(t, err, "Start")
	c := dial(t, srv.Addr())
	c.roundTrip("after two timeouts")
	require.NoError(t, c.conn.Close(), "client Close")
	assert.NoError(t, srv.Shutdown(bounded(t)), "Shutdown")
}

func TestServeStopsOnAPermanentAcceptError(t *testing.T) {
	errBroken := errors.New("listener broken")
	srv, err := factory.Start(&flakyListener{Listener: listen(t), errs: []error{errBroken}}, echo)
	require.NoError(t, err, "Start")
	awaitClosed(t, bounded(t), srv.Done(), "the accept loop stopped")
	assert.ErrorIs(t, srv.Shutdown(bounded(t)), errBroken, "Shutdown reports why accepting stopped")
}

func TestServeInAScopeCountsAgainstItAndStopsWithIt(t *testing.T) {
	var seen atomic.Int32
	s := newScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnStart: func(context.Context, *scheduler.Scope, lazytask.Handle) context.Context { seen.Add(1); return nil },
	}))
	srv, err := factory.Start(listen(t), echo, factory.WithScope(s), factory.WithName("echo"))
	require.NoError(t, err, "Start")
	c := dial(t, srv.Addr())
	c.roundTrip("in a scope") // the cap of 1 is the handler's: the accept loop runs over it
	snap := s.Snapshot()
	require.Len(t, snap.Children, 1, "root's children")
	assert.Equal(t, "echo", snap.Children[0].Name, "the server's scope")
	require.Len(t, snap.Children[0].Children, 1, "the server scope's children")
	assert.Equal(t, "echo/handlers", snap.Children[0].Children[0].Name, "the handler scope")
	assert.Equal(t, int32(2), seen.Load(), "tasks the root's hooks saw start: the accept loop and the handler")

	grace, over := context.WithCancel(bg)
	over()
	_ = s.Shutdown(grace) // its error is the scheduler's business
	awaitClosed(t, bounded(t), srv.Done(), "the accept loop stopped with its scheduler")
	assert.True(t, c.closedByServer(), "the connection was closed")
	assert.NoError(t, srv.Shutdown(bounded(t)), "Shutdown after the scheduler's")
}

func TestStartRejectsBadInputAndClosesTheListener(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler func(context.Context, net.Conn) error
		opts    []factory.ServeOption
		want    error
	}{
		{"nil handler", nil, nil, lazytask.ErrNilFunc},
		{"limit 0", echo, []factory.ServeOption{factory.WithLimit(0)}, scheduler.ErrInvalidLimit},
		{"negative grace", echo, []factory.ServeOption{factory.WithGrace(-1)}, scheduler.ErrInvalidOption},
		{"bad handler scope option", echo, []factory.ServeOption{factory.WithHandlerScope(scheduler.WithTimeout(-1))}, scheduler.ErrInvalidOption},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := listenSpy(t)
			_, err := factory.Start(ln, tc.handler, tc.opts...)
			assert.ErrorIs(t, err, tc.want, "Start")
			assert.True(t, ln.isClosed(), "the listener is closed")
		})
	}
}

// Every method of a nil or zero Server panics with a message that names
// the mistake: before, Addr dereferenced nil, Shutdown closed a nil
// channel, and Done returned a nil channel that blocks for ever.
func TestServerMethodsOnNilOrZeroPanicNamingIt(t *testing.T) {
	for _, rc := range []struct {
		name string
		s    *factory.Server
		want string
	}{
		{"nil *Server", nil, "factory: method called on a nil *Server"},
		{"zero Server", new(factory.Server), "factory: method called on a zero Server (make one with Start or StartHTTP)"},
	} {
		s := rc.s
		for name, call := range map[string]func(){
			"Addr":     func() { s.Addr() },
			"Done":     func() { s.Done() },
			"Handlers": func() { s.Handlers() },
			"Shutdown": func() { _ = s.Shutdown(context.Background()) },
		} {
			assert.PanicsWithValue(t, rc.want, call, "%s.%s", rc.name, name)
		}
	}
}

// A connection refused because the scheduler's bounded queue is full for
// now is closed, and the server goes on: once the queue has drained the
// next connection is served. The loop used to stop for good, Serve
// returning nil with its context live (a hostile review, 2026-12-07).
func TestServeRefusesAConnectionAtAFullQueueAndGoesOn(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
	release := make(chan struct{})
	var blockers []*lazytask.Task[struct{}]
	for range 2 { // one runs, one fills the queue
		h, err := scheduler.Go(s, func(context.Context) error { <-release; return nil })
		require.NoError(t, err)
		blockers = append(blockers, h)
	}
	ctx, cancel := context.WithCancel(bounded(t))
	defer cancel()
	ln := listen(t)
	served := make(chan error, 1)
	go func() { served <- factory.Serve(ctx, ln, echo, factory.WithScope(s)) }()
	refused := dial(t, ln.Addr())
	assert.True(t, refused.closedByServer(), "the connection refused at the full queue is closed")
	close(release)
	for _, h := range blockers {
		require.NoError(t, h.Wait(bounded(t)))
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with its context live, after one refusal", err)
	default:
	}
	c := dial(t, ln.Addr())
	c.roundTrip("after the queue drained")
	require.NoError(t, c.conn.Close())
	cancel()
	require.NoError(t, <-served)
}

// A hook of the handler scope that cancels one connection's task (load
// shedding) refuses that connection only: it is closed, and the next is
// served. The loop used to stop, Serve returning the hook's cause with its
// context live (a hostile review, 2026-12-07).
func TestServeGoesOnAfterAHookShedsAConnection(t *testing.T) {
	var n atomic.Int32
	errShed := errors.New("shed")
	ctx, cancel := context.WithCancel(bounded(t))
	defer cancel()
	ln := listen(t)
	served := make(chan error, 1)
	go func() {
		served <- factory.Serve(ctx, ln, echo, factory.WithHandlerScope(scheduler.WithHooks(scheduler.Hooks{
			OnCreate: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
				if n.Add(1) == 1 {
					h.Cancel(errShed)
				}
			},
		})))
	}()
	shed := dial(t, ln.Addr())
	assert.True(t, shed.closedByServer(), "the shed connection is closed")
	c := dial(t, ln.Addr())
	c.roundTrip("after one was shed")
	require.NoError(t, c.conn.Close())
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with its context live", err)
	default:
	}
	cancel()
	require.NoError(t, <-served)
}
