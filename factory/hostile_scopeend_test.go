//go:build unix

package factory_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/scheduler"
)

// A handler scope whose life ends (WithHandlerScope(scheduler.WithTimeout))
// stops the server: Done closes, and Shutdown, which "reports why the loop
// stopped", returned nil, and so did Serve, as if ctx had ended and the
// handlers had drained: a server that stopped serving on its own, after
// 20ms, looked like a clean stop. They report the scope's cause now.
func TestHostileServeHandlerScopeEndIsReported(t *testing.T) {
	short := factory.WithHandlerScope(scheduler.WithTimeout(20 * time.Millisecond))

	srv, err := factory.Start(listen(t), echo, short)
	require.NoError(t, err, "Start")
	awaitClosed(t, bounded(t), srv.Done(), "the accept loop stopped with its handler scope")
	assert.ErrorIs(t, srv.Shutdown(bounded(t)), context.DeadlineExceeded, "Start's Shutdown")

	assert.ErrorIs(t, factory.Serve(bounded(t), listen(t), echo, short), context.DeadlineExceeded, "Serve")

	hs, err := factory.StartHTTP(listen(t), &http.Server{Handler: http.NotFoundHandler()}, short)
	require.NoError(t, err, "StartHTTP")
	awaitClosed(t, bounded(t), hs.Done(), "the HTTP server stopped with its handler scope")
	assert.ErrorIs(t, hs.Shutdown(bounded(t)), context.DeadlineExceeded, "StartHTTP's Shutdown")
}

// The cause of a fail-fast handler scope is its first error, which the
// scope's errors hold already: Serve reports it once.
func TestHostileServeFailFastErrorIsReportedOnce(t *testing.T) {
	errBad := errors.New("bad request")
	ln := listen(t)
	served := make(chan error, 1)
	go func() {
		served <- factory.Serve(bg, ln, func(context.Context, net.Conn) error { return errBad },
			factory.WithHandlerScope(scheduler.FailFast()))
	}()
	dial(t, ln.Addr())
	err := <-served
	require.ErrorIs(t, err, errBad, "Serve's error")
	assert.Equal(t, 1, strings.Count(err.Error(), "bad request"), "reported once: %v", err)
}
