package factory

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// StartHTTP serves HTTP on ln with srv in the background and returns at
// once. srv.Serve runs as the accept task of the server's scope, and every
// request as a task of the handler scope (named after its method and
// path), so the scope counts the requests, its cap (WithLimit) bounds how
// many run at once, and the excess waits in its queue. StartHTTP replaces
// srv.Handler (http.DefaultServeMux if nil) with a wrapper that does this;
// configure the rest of srv (timeouts, logs) as usual, and do not start it
// elsewhere.
//
// A handler's request context carries the values of both the request and
// the task (lazytask.HandleOf works), and is canceled when either ends: the
// client goes away, or the server cancels the task. The task's own context,
// which hooks see, carries the request's values too (a tracer's hook finds
// the request's span there as the parent). A request canceled
// before its handler ran gets 503 Service Unavailable. A panicking handler
// fails its task with a *lazytask.PanicError, and one that calls
// runtime.Goexit with lazytask.ErrGoexit; the handler scope's policy
// reports it, and the connection is aborted, as net/http does. A panic
// with http.ErrAbortHandler (httputil.ReverseProxy's, when the client
// goes away) aborts the connection too, but quietly, as net/http promises:
// the task ends Canceled with that cause, and the policy sees no failure.
//
// Like Start, StartHTTP takes ln over.
func StartHTTP(ln net.Listener, srv *http.Server, opts ...ServeOption) (*Server, error) {
	if srv == nil {
		closeQuietly(ln)
		return nil, fmt.Errorf("%w: nil http.Server", scheduler.ErrInvalidOption)
	}
	cfg, err := newServeConfig(opts)
	if err != nil {
		closeQuietly(ln)
		return nil, err
	}
	return start(ln, cfg, func(s *Server) {
		s.http = srv
		h := srv.Handler
		if h == nil {
			h = http.DefaultServeMux
		}
		srv.Handler = s.wrap(h)
	})
}

// ServeHTTP is StartHTTP, then Shutdown when ctx ends: srv.Shutdown closes
// the listener and the idle connections and waits for the requests in
// flight during the grace period (WithGrace); past it, the remaining
// requests are canceled and the connections closed. It returns nil once
// all of that is done in time, ErrGraceExpired if requests had to be
// canceled, or srv.Serve's error if serving failed. A handler that
// hijacks its connection (http.Hijacker) owns it: net/http closes no
// hijacked connection, so past the grace such a handler must end when its
// context is canceled (close the connection then), or ServeHTTP waits for
// it. srv must be new: an http.Server shut down before cannot serve
// again, and its Serve returns http.ErrServerClosed at once, which
// ServeHTTP cannot tell from a Shutdown of srv made while it served (a
// stop, nil).
func ServeHTTP(ctx context.Context, ln net.Listener, srv *http.Server, opts ...ServeOption) error {
	s, err := StartHTTP(ln, srv, append(opts, withValues(ctx))...)
	if err != nil {
		return err
	}
	return s.serveUntil(ctx)
}

// serveHTTP is the accept task of an HTTP server.
func (s *Server) serveHTTP(ctx context.Context) (struct{}, error) {
	// The server's scope canceled (its parent shut down past the grace
	// period): close the listener and every connection.
	stop := context.AfterFunc(ctx, func() { _ = s.http.Close() })
	defer stop()
	// The handler scope canceled: its requests are, and no new one would
	// run.
	stopH := context.AfterFunc(s.handlers.Context(), func() {
		s.stopHandlers()
		_ = s.http.Close()
	})
	defer stopH()
	err := s.http.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
		if s.stopping() {
			err = s.stopErr()
		}
	}
	return struct{}{}, err
}

// drainHTTP lets the requests in flight finish until ctx ends, then cancels
// them and closes the connections.
func (s *Server) drainHTTP(ctx context.Context) error {
	if s.http.Shutdown(ctx) == nil {
		// net/http tracks no hijacked connection: their handlers may
		// still run. They get what is left of the grace too.
		err := s.handlers.Wait(ctx)
		if ctx.Err() == nil || err != context.Cause(ctx) {
			return err
		}
	}
	s.cancelHandlers()
	return errors.Join(context.Cause(ctx), s.handlers.Wait(context.Background()))
}

// wrap runs each request as a task of the handler scope; the serving
// goroutine waits for it, since w is only valid until ServeHTTP returns.
func (s *Server) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rctx := r.Context()
		ran, aborted := false, false
		var t *lazytask.Task[struct{}]
		t = scheduler.NewTask(s.handlers, func(ctx context.Context) (_ struct{}, err error) {
			ran = true
			mctx, cancel := context.WithCancelCause(rctx)
			stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
			defer stop()
			defer cancel(nil)
			defer func() {
				// http.ErrAbortHandler aborts the response on purpose
				// (httputil.ReverseProxy, when the client goes away): not
				// a failure, so the task ends Canceled with it as the
				// cause, unless something canceled it first. Any other
				// panic goes on, to become a *lazytask.PanicError.
				if v := recover(); v != nil {
					if v != http.ErrAbortHandler {
						panic(v)
					}
					aborted = true
					t.Cancel(http.ErrAbortHandler)
					err = context.Cause(ctx)
				}
			}()
			h.ServeHTTP(w, r.WithContext(merged{Context: mctx, task: ctx}))
			return struct{}{}, nil
		}, lazytask.WithName(r.Method+" "+r.URL.Path), lazytask.WithValues(rctx))
		if !t.State().Terminal() {
			if err := s.handlers.Enqueue(t); err != nil {
				t.Cancel(err)
			}
		}
		select {
		case <-t.Done():
		case <-rctx.Done():
			// The client is gone: a queued request never runs.
			t.Cancel(context.Cause(rctx))
			<-t.Done()
		}
		if !ran {
			http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
			return
		}
		// A handler that panicked, or called runtime.Goexit, wrote a
		// response that may be cut short: the connection is aborted, as
		// net/http does when its handler goroutine panics or exits.
		if _, ok := errors.AsType[*lazytask.PanicError](t.Err()); ok || aborted || errors.Is(t.Err(), lazytask.ErrGoexit) {
			panic(http.ErrAbortHandler)
		}
	})
}

// merged is a request's context (canceled with the task's) that also
// answers the task's values, so that lazytask.HandleOf and slot lending
// work inside HTTP handlers.
type merged struct {
	context.Context
	task context.Context
}

// Value answers from the request's context, then from the task's. The
// task's own key comes from the task alone: a request's context made from
// another task's (an http.Server whose BaseContext or ConnContext returns
// a task's context) names that task, and lazytask.HandleOf and slot
// lending must find the request's. Once the server has canceled the
// task, the task's context answers first, so that context.Cause reports
// the server's cause even if closing the connection canceled the
// request's context a moment earlier. The task's context holds no values
// of the user's: only the task's own.
func (m merged) Value(key any) any {
	if core.IsTaskKey(key) {
		return m.task.Value(key)
	}
	if m.task.Err() != nil {
		if v := m.task.Value(key); v != nil {
			return v
		}
	}
	if v := m.Context.Value(key); v != nil {
		return v
	}
	return m.task.Value(key)
}
