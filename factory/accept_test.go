//go:build unix

package factory_test

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
)

// logRecorder is a slog.Handler that keeps what it is given.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}

// acceptRetry is what the accept loop logged about one retried error.
type acceptRetry struct {
	level   slog.Level
	server  string
	err     error
	retryIn time.Duration
}

// acceptRetries returns the records about retried accept errors, in order.
func (h *logRecorder) acceptRetries() []acceptRetry {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []acceptRetry
	for _, r := range h.recs {
		if !strings.Contains(r.Message, "accept") {
			continue
		}
		a := acceptRetry{level: r.Level}
		r.Attrs(func(at slog.Attr) bool {
			switch at.Key {
			case "server":
				a.server = at.Value.String()
			case "err":
				a.err, _ = at.Value.Any().(error)
			case "retry_in":
				a.retryIn = at.Value.Duration()
			}
			return true
		})
		out = append(out, a)
	}
	return out
}

// recordDefaultLog makes slog's default logger a recorder until the test
// ends. (The server has no logger option: it logs with slog.Default().)
func recordDefaultLog(t *testing.T) *logRecorder {
	t.Helper()
	old, w, flags := slog.Default(), log.Writer(), log.Flags()
	t.Cleanup(func() {
		slog.SetDefault(old)
		// SetDefault pointed the log package at our handler; undo it.
		log.SetOutput(w)
		log.SetFlags(flags)
	})
	h := &logRecorder{}
	slog.SetDefault(slog.New(h))
	return h
}

// acceptErrno is the error a real listener's Accept returns for errno.
func acceptErrno(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept", errno)}
}

// dialBounded is dial with a deadline on the connection, so that a server
// that stopped accepting fails the test instead of hanging it; the
// deadline is never what a passing test waits for.
func dialBounded(t *testing.T, addr net.Addr) *client {
	t.Helper()
	c := dial(t, addr)
	require.NoError(t, c.conn.SetDeadline(time.Now().Add(5*time.Second)), "SetDeadline")
	return c
}

func TestServeKeepsServingThroughEMFILEAndLogsEachRetry(t *testing.T) {
	rec := recordDefaultLog(t)
	emfile := acceptErrno(syscall.EMFILE)
	ln := &flakyListener{Listener: listen(t), errs: []error{emfile, emfile, emfile}}
	srv, err := factory.Start(ln, echo, factory.WithName("echo"))
	require.NoError(t, err, "Start")
	c := dialBounded(t, srv.Addr())
	c.roundTrip("after three EMFILEs")
	require.NoError(t, c.conn.Close(), "client Close")
	require.NoError(t, srv.Shutdown(bounded(t)), "Shutdown")

	got := rec.acceptRetries()
	require.Len(t, got, 3, "accept retries logged: %+v", got)
	for i, want := range []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond} {
		assert.Equal(t, slog.LevelWarn, got[i].level, "retry %d: level", i)
		assert.Equal(t, "echo", got[i].server, "retry %d: server", i)
		assert.ErrorIs(t, got[i].err, syscall.EMFILE, "retry %d: err", i)
		assert.Equal(t, want, got[i].retryIn, "retry %d: retry_in (5ms, doubling)", i)
	}
}

func TestServeRetriesEveryTemporaryAcceptErrno(t *testing.T) {
	for _, errno := range []syscall.Errno{
		syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EPROTO,
		syscall.EINTR, syscall.EAGAIN,
	} {
		t.Run(errno.Error(), func(t *testing.T) {
			rec := recordDefaultLog(t)
			ln := &flakyListener{Listener: listen(t), errs: []error{acceptErrno(errno)}}
			srv, err := factory.Start(ln, echo)
			require.NoError(t, err, "Start")
			c := dialBounded(t, srv.Addr())
			c.roundTrip("after " + errno.Error())
			require.NoError(t, c.conn.Close(), "client Close")
			require.NoError(t, srv.Shutdown(bounded(t)), "Shutdown")
			got := rec.acceptRetries()
			require.Len(t, got, 1, "accept retries logged: %+v", got)
			assert.ErrorIs(t, got[0].err, errno, "the logged error")
		})
	}
}

func TestServeStopsOnANonTemporaryAcceptErrno(t *testing.T) {
	rec := recordDefaultLog(t)
	ln := &flakyListener{Listener: listen(t), errs: []error{acceptErrno(syscall.EINVAL)}}
	srv, err := factory.Start(ln, echo)
	require.NoError(t, err, "Start")
	awaitClosed(t, bounded(t), srv.Done(), "the accept loop stopped")
	err = srv.Shutdown(bounded(t))
	assert.True(t, errors.Is(err, syscall.EINVAL), "Shutdown = %v; want the EINVAL that stopped the loop", err)
	assert.Empty(t, rec.acceptRetries(), "accept retries logged")
}
