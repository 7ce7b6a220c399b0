package factory

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lazysched/lazysched/factory/internal/glue"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Server is a running server, TCP (Start) or HTTP (StartHTTP). Its accept
// loop runs as a task in the server's scope, and each connection's handler
// (each request, for HTTP) as a task in a child scope, the handler scope,
// whose cap is WithLimit's. Make it with Start or StartHTTP; the zero value
// is not usable. Its methods are safe for concurrent use; called on a nil
// or zero Server they panic with a message that names the mistake.
type Server struct {
	ln       net.Listener
	own      *scheduler.Scheduler // nil with WithScope
	scope    *scheduler.Scope     // runs the accept loop
	handlers *scheduler.Scope     // runs the handlers
	handler  func(ctx context.Context, conn net.Conn) error
	values   context.Context // Serve's, whose values handler tasks carry; nil for Start
	http     *http.Server
	slots    chan struct{} // TCP, at the cap: one token per running handler
	onPause  func()
	grace    time.Duration

	stopOnce  sync.Once
	stop      chan struct{} // closed when the server stops accepting
	stopCause error         // why, if its handler scope ended; set before stop is closed
	done      chan struct{} // closed when the accept loop has returned
	acceptErr error         // written before done is closed
	finished  chan struct{} // closed when the first Shutdown returns

	mu        sync.Mutex
	shutdowns int
}

// Start serves ln in the background: it runs an accept loop that hands
// each connection to handler, as a task of the handler scope, and returns
// at once. The handler gets the task's context, canceled when the server
// gives up on it; the connection is closed when the handler returns, or
// when that context is canceled (so that a handler blocked in a read
// wakes), or, for a connection that never got to run, when its task ends.
//
// At the cap (WithLimit) the loop stops accepting until a slot frees,
// unless QueueWhenFull. A connection that the handler scope refuses for
// now (its scheduler's bounded queue full, scheduler.WithQueueLimit, or a
// hook that canceled its task to shed load) is closed at once and the loop
// goes on, as ServeHTTP answers 503; a refusal for good (the scope
// canceled or closed) stops the loop. Handler errors follow the handler
// scope's policy (WithHandlerScope); a handler that fails after the server
// canceled it ends Canceled, its error wrapped with the cause.
//
// Start takes ln over: Shutdown closes it, and Start closes it at once if
// it fails (bad options, or a closed or canceled WithScope).
func Start(ln net.Listener, handler func(ctx context.Context, conn net.Conn) error, opts ...ServeOption) (*Server, error) {
	if handler == nil {
		closeQuietly(ln)
		return nil, lazytask.ErrNilFunc
	}
	cfg, err := newServeConfig(opts)
	if err != nil {
		closeQuietly(ln)
		return nil, err
	}
	return start(ln, cfg, func(s *Server) {
		s.handler = handler
		if cfg.limit > 0 && !cfg.queue {
			s.slots = make(chan struct{}, cfg.limit)
		}
	})
}

// Serve is Start, then Shutdown when ctx ends. Every handler task carries
// ctx's values (not its cancellation, which means a graceful stop), so
// hooks and handlers see them. When ctx ends, the server stops accepting,
// lets its handlers drain for the grace period (WithGrace), then cancels
// the stragglers, closes their connections and waits for them. Serve
// returns nil once all of that is done in time; ErrGraceExpired if
// stragglers had to be canceled; the listener's error if accepting failed
// (the handlers drain then too); the handler scope's cause if its context
// ended and stopped the server (WithHandlerScope's timeout, a
// cancellation); and the handler scope's errors when it is fail-fast (its
// first error also stops the server).
func Serve(ctx context.Context, ln net.Listener, handler func(ctx context.Context, conn net.Conn) error, opts ...ServeOption) error {
	s, err := Start(ln, handler, append(opts, withValues(ctx))...)
	if err != nil {
		return err
	}
	return s.serveUntil(ctx)
}

// serveUntil waits for ctx to end (or the accept loop to stop), then shuts
// the server down with the grace period of WithGrace.
func (s *Server) serveUntil(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case <-s.done:
	}
	grace, cancel := context.WithTimeoutCause(context.WithoutCancel(ctx), s.grace, ErrGraceExpired)
	defer cancel()
	return s.Shutdown(grace)
}

func start(ln net.Listener, cfg serveConfig, setup func(*Server)) (*Server, error) {
	if ln == nil {
		return nil, fmt.Errorf("%w: nil listener", scheduler.ErrInvalidOption)
	}
	s := &Server{ln: ln, values: cfg.values, onPause: cfg.onPause, grace: cfg.grace, stop: make(chan struct{}), done: make(chan struct{}), finished: make(chan struct{})}
	setup(s)
	if err := s.makeScopes(cfg); err != nil {
		closeQuietly(ln)
		return nil, err
	}
	accept := s.acceptLoop
	if s.http != nil {
		accept = s.serveHTTP
	}
	loop := scheduler.NewTask(s.scope, accept, lazytask.WithName(cfg.name+"/accept"))
	loop.OnDone(func(_ struct{}, err error) {
		s.acceptErr = err
		close(s.done)
	})
	// The loop waits in Accept, not on a CPU: it runs over the cap
	// (counted in Stats.OverCap) so that it never holds a handler's slot.
	if err := s.scope.Force(loop); err != nil {
		loop.Cancel(err)
		s.stopAccepting()
		s.release()
		return nil, err
	}
	return s, nil
}

func (s *Server) makeScopes(cfg serveConfig) error {
	parent := glue.Scope(cfg.parent)
	if parent == nil {
		own, err := scheduler.New(scheduler.Unlimited())
		if err != nil {
			return err
		}
		s.own, parent = own, own.Root()
	}
	// The server's scope keeps quiet: what fails in it (the accept loop,
	// a fail-fast handler scope) is what Shutdown returns.
	sc, err := parent.NewScope(scheduler.WithName(cfg.name), scheduler.Supervise(ignore))
	if err != nil {
		s.release()
		return err
	}
	s.scope = sc
	hopts := []scheduler.Option{scheduler.WithName(cfg.name + "/handlers")}
	if cfg.limit > 0 {
		hopts = append(hopts, scheduler.WithLimit(cfg.limit))
	}
	h, err := sc.NewScope(append(hopts, cfg.handlerOpts...)...)
	if err != nil {
		s.release()
		return err
	}
	s.handlers = h
	return nil
}

// Addr returns the listener's address.
func (s *Server) Addr() net.Addr { return s.started().ln.Addr() }

// Handlers returns the handler scope: its Snapshot shows the connections
// (or requests) being handled and queued, its Wait waits for them.
func (s *Server) Handlers() *scheduler.Scope { return s.started().handlers }

// Messages of the panics of methods called on a nil or zero Server.
const (
	errNilServer  = "factory: method called on a nil *Server"
	errZeroServer = "factory: method called on a zero Server (make one with Start or StartHTTP)"
)

// started returns s, or panics with a message that names the mistake for
// a nil *Server or a zero Server (whose Done would block for ever).
func (s *Server) started() *Server {
	if s == nil {
		panic(errNilServer)
	}
	if s.done == nil {
		panic(errZeroServer)
	}
	return s
}

// Done returns a channel closed once the accept loop has returned: after
// Shutdown began, or when accepting failed, or when the handler scope
// refused more work (it was canceled, say by a fail-fast error, or shut
// down with its parent). Shutdown is still due then: it drains the
// handlers and reports why the loop stopped.
func (s *Server) Done() <-chan struct{} { return s.started().done }

// Shutdown stops the server gracefully. It stops accepting first (the
// listener is closed: new connections are refused), then lets running and
// queued handlers finish until ctx ends (the grace period), then cancels
// the rest with scheduler.ErrClosed as the cause, which closes their
// connections, and waits for them to return. A handler that ignores both
// its context and its closed connection keeps Shutdown waiting.
//
// It returns nil if everything finished in time, context.Cause(ctx) if the
// grace period ended first, joined with the accept loop's error if
// accepting had failed, with the handler scope's cause if that scope's
// context ended and so stopped the server (its timeout, say; not a close
// in order, scheduler.ErrClosed), and with the handler scope's errors if
// it is fail-fast. A second call cancels the handlers at once, waits for the
// first call to finish, and returns scheduler.ErrClosed.
//
// Shutdown waits for every handler: a handler that wants the server to stop
// must call it on a goroutine of its own and return.
func (s *Server) Shutdown(ctx context.Context) error {
	s.started()
	s.mu.Lock()
	s.shutdowns++
	first := s.shutdowns == 1
	s.mu.Unlock()
	s.stopAccepting()
	if !first {
		s.cancelHandlers()
		<-s.finished
		return scheduler.ErrClosed
	}
	var err error
	if s.http != nil {
		err = s.drainHTTP(ctx)
	} else {
		err = s.drain(ctx)
	}
	<-s.done
	s.release()
	close(s.finished)
	if s.acceptErr != nil && errors.Is(err, s.acceptErr) {
		return err // a fail-fast scope's first error, which ended the loop
	}
	return errors.Join(s.acceptErr, err)
}

// drain waits for the TCP handlers until ctx ends, then cancels them.
func (s *Server) drain(ctx context.Context) error {
	<-s.done // the loop submits nothing more
	err := s.handlers.Wait(ctx)
	if ctx.Err() == nil || err != context.Cause(ctx) {
		return err
	}
	s.cancelHandlers()
	return errors.Join(err, s.handlers.Wait(context.Background()))
}

func (s *Server) cancelHandlers() {
	s.handlers.Cancel(scheduler.ErrClosed)
	if s.http != nil {
		_ = s.http.Close()
	}
}

// stopAccepting stops the accept loop; for TCP it closes the listener
// (http.Server.Shutdown closes it for HTTP).
func (s *Server) stopAccepting() { s.stopFor(nil) }

// stopHandlers stops the server because its handler scope's context
// ended, with that scope's cause: a timeout, a cancellation, a fail-fast
// error. A close in order (scheduler.ErrClosed: the server's own Shutdown
// past its grace, or a parent's) is not reported.
func (s *Server) stopHandlers() {
	cause := context.Cause(s.handlers.Context())
	if errors.Is(cause, scheduler.ErrClosed) {
		cause = nil
	}
	s.stopFor(cause)
}

// stopErr is the accept loop's error once the server stopped: why the
// handler scope ended, if that stopped it first.
func (s *Server) stopErr() error {
	<-s.stop
	return s.stopCause
}

// stopFor is stopAccepting for a reason the accept loop reports, if it is
// the first to stop the server.
func (s *Server) stopFor(cause error) {
	s.stopOnce.Do(func() {
		s.stopCause = cause
		close(s.stop)
		if s.http == nil {
			closeQuietly(s.ln)
		}
	})
}

func (s *Server) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// release detaches the server's scopes, idle by now, and shuts its own
// scheduler down.
func (s *Server) release() {
	bg := context.Background()
	if s.handlers != nil {
		_ = s.handlers.Shutdown(bg)
	}
	if s.scope != nil {
		_ = s.scope.Shutdown(bg)
	}
	if s.own != nil {
		_ = s.own.Shutdown(bg)
	}
}
