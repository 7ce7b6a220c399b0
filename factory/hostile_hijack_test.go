//go:build unix

package factory_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
)

// A handler that hijacks its connection and ends when its context is
// canceled (what ServeHTTP's doc asks of it). net/http does not track a
// hijacked connection, so http.Server.Shutdown returns nil at once; the
// server must still cancel the handler once the grace period ends, as
// its doc says ("past the grace such a handler must end when its context
// is canceled"), and Shutdown return the grace's cause.
func TestShutdownCancelsAHijackedHandlerPastTheGrace(t *testing.T) {
	hijacked := make(chan struct{})
	release := make(chan struct{}) // frees the handler if the bug holds it
	t.Cleanup(func() { close(release) })
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if !assert.NoError(t, err, "Hijack") {
			return
		}
		defer conn.Close()
		close(hijacked)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})}
	srv, err := factory.StartHTTP(listen(t), hs)
	require.NoError(t, err, "StartHTTP")
	c, err := net.Dial("tcp", srv.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)
	<-hijacked

	grace, cancel := context.WithTimeoutCause(context.Background(), 50*time.Millisecond, factory.ErrGraceExpired)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(grace) }()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, factory.ErrGraceExpired, "Shutdown")
	case <-time.After(hsGuard):
		t.Errorf("Shutdown still waits for the hijacked handler %v after its grace ended", hsGuard)
		release <- struct{}{}
		<-done
	}
}

// A hijacked handler that ends within the grace: Shutdown waits for it
// and returns nil.
func TestShutdownWaitsForAHijackedHandlerWithinTheGrace(t *testing.T) {
	hijacked := make(chan struct{})
	release := make(chan struct{})
	ended := make(chan struct{})
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(ended)
		conn, _, err := w.(http.Hijacker).Hijack()
		if !assert.NoError(t, err, "Hijack") {
			return
		}
		defer conn.Close()
		close(hijacked)
		<-release
	})}
	srv, err := factory.StartHTTP(listen(t), hs)
	require.NoError(t, err, "StartHTTP")
	c, err := net.Dial("tcp", srv.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)
	<-hijacked
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(bounded(t)) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) while the hijacked handler runs", err)
	case <-srv.Done(): // the accept loop has stopped; the handler still runs
	}
	close(release)
	<-ended
	assert.NoError(t, <-done, "Shutdown")
}
