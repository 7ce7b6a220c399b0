package factory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// acceptLoop accepts connections until the server stops, and hands each to
// the handler scope. If the server's scope or the handler scope is canceled
// (a parent shut down past its grace period, a fail-fast error), the loop
// stops too. A temporary Accept error (temporaryAcceptError) is logged
// with slog.Default() at level Warn and retried after a backoff; any other
// ends the loop, and Shutdown reports it. A connection that the handler
// scope refuses for now (a bounded queue full, scheduler.ErrQueueFull, or
// a hook that canceled its task) is closed, logged at level Warn, and the
// loop goes on; a refusal for good (the scope closed or canceled) ends the
// loop, and one that every connection would meet (its task's options)
// ends it with that error.
func (s *Server) acceptLoop(ctx context.Context) (struct{}, error) {
	stop := context.AfterFunc(ctx, s.stopAccepting)
	defer stop()
	// The handler scope canceled (a fail-fast error, or its own
	// shutdown): stop accepting rather than refuse the next connection.
	stopH := context.AfterFunc(s.handlers.Context(), s.stopHandlers)
	defer stopH()
	var delay time.Duration
	for {
		if !s.takeSlot() {
			return struct{}{}, s.stopErr()
		}
		conn, err := s.ln.Accept()
		if err != nil {
			s.freeSlot()
			if s.stopping() {
				return struct{}{}, s.stopErr()
			}
			if temporaryAcceptError(err) {
				// As net/http's Server.Serve: 5ms, doubling up to 1s,
				// back to 0 after the next connection.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				slog.Warn("factory: accept failed; retrying",
					"server", s.scope.Name(), "err", err, "retry_in", delay)
				if !s.backoff(delay) {
					return struct{}{}, s.stopErr()
				}
				continue
			}
			return struct{}{}, err
		}
		delay = 0
		if err := s.startConn(conn); err != nil {
			switch {
			case errors.Is(err, scheduler.ErrClosed) || errors.Is(err, scheduler.ErrScopeCanceled) || s.handlers.Context().Err() != nil:
				// The handler scope takes no more work: stop accepting
				// rather than refuse every connection.
				if s.handlers.Context().Err() != nil {
					s.stopHandlers()
				} else {
					s.stopAccepting()
				}
				return struct{}{}, s.stopErr()
			case errors.Is(err, scheduler.ErrWeightTooLarge) || errors.Is(err, scheduler.ErrInvalidOption):
				// Every connection's task would be refused alike.
				s.stopAccepting()
				return struct{}{}, err
			default:
				// Refused for now: a bounded queue full (other work of
				// the scheduler's, or a burst), or a hook that shed it.
				// This connection is closed, as ServeHTTP answers 503,
				// and the next is accepted.
				slog.Warn("factory: connection refused",
					"server", s.scope.Name(), "remote", conn.RemoteAddr(), "err", err)
				continue
			}
		}
	}
}

// temporaryAcceptError reports whether err, from Accept, says "not now"
// rather than "never": a timeout (a deadline set on the listener), or one
// of acceptRetryErrnos, the errors net/http's Server.Serve retries and
// more (out of file descriptors or memory, a connection reset before it
// was accepted). Every other error ends the accept loop.
func temporaryAcceptError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, errno := range acceptRetryErrnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// takeSlot waits for a free handler slot when the server pauses at its
// cap; it reports false if the server stops meanwhile.
func (s *Server) takeSlot() bool {
	if s.slots == nil {
		return true
	}
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	if s.onPause != nil {
		s.onPause()
	}
	select {
	case s.slots <- struct{}{}:
		return true
	case <-s.stop:
		return false
	}
}

func (s *Server) freeSlot() {
	if s.slots != nil {
		<-s.slots
	}
}

// backoff waits d after a temporary accept error; false if the server
// stops meanwhile.
func (s *Server) backoff(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stop:
		return false
	}
}

// startConn hands conn to the handler scope as a task. The task's end, in
// whatever way, closes conn and frees its slot.
func (s *Server) startConn(conn net.Conn) error {
	t := scheduler.NewTask(s.handlers, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.runHandler(ctx, conn)
	}, s.connOpts(conn)...)
	t.OnDone(func(struct{}, error) {
		closeQuietly(conn)
		s.freeSlot()
	})
	if t.State().Terminal() {
		return t.Err()
	}
	if err := s.handlers.Enqueue(t); err != nil {
		t.Cancel(err)
		return err
	}
	return nil
}

func (s *Server) runHandler(ctx context.Context, conn net.Conn) error {
	stop := context.AfterFunc(ctx, func() { closeQuietly(conn) })
	defer stop()
	return canceledAs(ctx, s.handler(ctx, conn))
}

// canceledAs wraps the error of a handler whose context was canceled with
// the cause, so that the task ends Canceled, not Failed: the handler most
// likely failed because the server closed its connection.
func canceledAs(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	if cause := context.Cause(ctx); !errors.Is(err, cause) {
		return fmt.Errorf("%w: %w", cause, err)
	}
	return err
}

func ignore(lazytask.Info, error) {}

type closer interface{ Close() error }

func closeQuietly(c closer) {
	if c != nil {
		_ = c.Close()
	}
}

// connOpts are the options of a connection's task: its name, and the
// values of Serve's context, if Serve started the server.
func (s *Server) connOpts(conn net.Conn) []lazytask.Option {
	opts := []lazytask.Option{lazytask.WithName("conn " + remoteName(conn))}
	if s.values != nil {
		opts = append(opts, lazytask.WithValues(s.values))
	}
	return opts
}

// remoteName is conn's remote address as text, or "unknown" for a
// connection that has none: net.Conn does not promise one, and a panic
// here would end the accept loop with the accepted connection unclosed.
func remoteName(conn net.Conn) string {
	if a := conn.RemoteAddr(); a != nil {
		return a.String()
	}
	return "unknown"
}
