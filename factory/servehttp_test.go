package factory_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// httpClient returns a client whose idle connections are closed when the
// test ends (goleak would see their goroutines otherwise).
func httpClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type response struct {
	status int
	body   string
	err    error
}

// get sends a GET with ctx and returns what came back, without failing
// the test: some tests expect errors.
func get(ctx context.Context, c *http.Client, url string) response {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return response{err: err}
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: string(b), err: err}
}

func goGet(ctx context.Context, c *http.Client, url string) <-chan response {
	ch := make(chan response, 1)
	go func() { ch <- get(ctx, c, url) }()
	return ch
}

func startHTTP(t *testing.T, h http.Handler, opts ...factory.ServeOption) (*factory.Server, string) {
	t.Helper()
	srv, _, url := startHTTPSpy(t, h, opts...)
	return srv, url
}

func startHTTPSpy(t *testing.T, h http.Handler, opts ...factory.ServeOption) (*factory.Server, *spyListener, string) {
	t.Helper()
	ln := listenSpy(t)
	srv, err := factory.StartHTTP(ln, &http.Server{Handler: h}, opts...)
	require.NoError(t, err, "StartHTTP")
	return srv, ln, "http://" + srv.Addr().String()
}

func TestServeHTTPRunsEachRequestAsATaskWithTheRequestValues(t *testing.T) {
	srv, url := startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := lazytask.HandleOf(r.Context())
		local := r.Context().Value(http.LocalAddrContextKey) != nil
		fmt.Fprintf(w, "task %q running=%v, local addr known=%v", h.Options().Name, h.State() == lazytask.Running, local)
	}))
	resp := get(bounded(t), httpClient(t), url+"/hello")
	require.NoError(t, resp.err, "GET /hello")
	assert.Equal(t, `task "GET /hello" running=true, local addr known=true`, resp.body, "body")
	assert.NoError(t, srv.Shutdown(bounded(t)), "Shutdown")
}

func TestServeHTTPCapsRequestsAndQueuesTheExcess(t *testing.T) {
	hooks, withHooks := newHookLog()
	g := newGate(t)
	var running, peak atomic.Int32
	srv, url := startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		defer running.Add(-1)
		peak.Store(max(peak.Load(), n))
		<-g.release
		fmt.Fprint(w, "ok")
	}), factory.WithLimit(1), withHooks)
	c := httpClient(t)
	a := goGet(bounded(t), c, url+"/a")
	b := goGet(bounded(t), c, url+"/b")
	<-hooks.queued
	<-hooks.queued
	waitFor(t, "one request running and one queued", func() bool {
		snap := srv.Handlers().Snapshot()
		return snap.Running == 1 && snap.Queued == 1
	})
	g.open()
	for _, ch := range []<-chan response{a, b} {
		r := <-ch
		require.NoError(t, r.err, "GET")
		assert.Equal(t, "ok", r.body, "body")
	}
	assert.Equal(t, int32(1), peak.Load(), "the most requests handled at once")
	assert.NoError(t, srv.Shutdown(bounded(t)), "Shutdown")
}

func TestShutdownHTTPStopsAcceptingAndDrainsRequestsInFlight(t *testing.T) {
	g := newGate(t)
	srv, ln, url := startHTTPSpy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.wait()
		fmt.Fprint(w, "finished")
	}))
	inFlight := goGet(bounded(t), httpClient(t), url)
	<-g.started
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(bounded(t)) }()
	awaitClosed(t, bounded(t), srv.Done(), "srv.Serve returned")
	assert.True(t, ln.isClosed(), "the listener is closed once srv.Serve has returned")
	g.open()
	r := <-inFlight
	require.NoError(t, r.err, "the request in flight")
	assert.Equal(t, "finished", r.body, "the request in flight")
	assert.NoError(t, <-shut, "Shutdown")
}

func TestShutdownHTTPAfterTheGraceCancelsRequestsAndQueuedOnesNeverRun(t *testing.T) {
	hooks, withHooks := newHookLog()
	var handled atomic.Int32
	var cause atomic.Value
	started := make(chan struct{}, 1)
	srv, url := startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		started <- struct{}{}
		<-r.Context().Done()
		cause.Store(context.Cause(r.Context()))
	}), factory.WithLimit(1), withHooks)
	c := httpClient(t)
	running := goGet(bounded(t), c, url+"/running")
	<-started
	queued := goGet(bounded(t), c, url+"/queued")
	<-hooks.queued
	<-hooks.queued

	grace, over := context.WithCancelCause(bg)
	errGraceOver := errors.New("grace over")
	over(errGraceOver)
	assert.ErrorIs(t, srv.Shutdown(grace), errGraceOver, "Shutdown")
	assert.Equal(t, scheduler.ErrClosed, cause.Load(), "the canceled request's context cause")
	assert.Equal(t, int32(1), handled.Load(), "handlers that ran")
	if r := <-queued; r.err == nil {
		assert.Equal(t, http.StatusServiceUnavailable, r.status, "the queued request's status, if it got one")
	}
	<-running
	states := map[lazytask.State]int{}
	for range 2 {
		states[(<-hooks.done).State]++
	}
	assert.Equal(t, map[lazytask.State]int{lazytask.Succeeded: 1, lazytask.Canceled: 1}, states,
		"the tasks' end states: the handler returned nil after its cancel, the queued one never ran")
}

func TestHTTPClientGoneWhileQueuedCancelsItsTask(t *testing.T) {
	hooks, withHooks := newHookLog()
	g := newGate(t)
	var handled atomic.Int32
	srv, url := startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		g.wait()
	}), factory.WithLimit(1), withHooks)
	c := httpClient(t)
	first := goGet(bounded(t), c, url)
	<-g.started
	ctx, cancel := context.WithCancel(bounded(t))
	gone := goGet(ctx, c, url)
	<-hooks.queued
	<-hooks.queued
	cancel()
	assert.Error(t, (<-gone).err, "the canceled client's GET")
	info := <-hooks.done
	assert.Equal(t, lazytask.Canceled, info.State, "the queued task's state")
	g.open()
	require.NoError(t, (<-first).err, "the first GET")
	assert.Equal(t, int32(1), handled.Load(), "handlers that ran")
	assert.NoError(t, srv.Shutdown(bounded(t)), "Shutdown")
}

func TestHTTPHandlerPanicFailsItsTaskAndAbortsTheResponse(t *testing.T) {
	reported := make(chan error, 1)
	srv, url := startHTTP(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("handler bug") }),
		factory.WithHandlerScope(scheduler.Supervise(func(_ lazytask.Info, err error) { reported <- err })))
	r := get(bounded(t), httpClient(t), url)
	assert.Error(t, r.err, "GET: the response was aborted")
	pe, ok := errors.AsType[*lazytask.PanicError](<-reported)
	require.True(t, ok, "the supervisor got a *PanicError")
	assert.Equal(t, "handler bug", pe.Value, "the panic value")
	assert.NoError(t, srv.Shutdown(bounded(t)), "Shutdown")
}

func TestServeHTTPReturnsNilAfterACleanDrain(t *testing.T) {
	ctx, cancel := context.WithCancel(bg)
	ln := listen(t)
	served := make(chan error, 1)
	go func() {
		served <- factory.ServeHTTP(ctx, ln, &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "pong")
		})})
	}()
	r := get(bounded(t), httpClient(t), "http://"+ln.Addr().String())
	require.NoError(t, r.err, "GET")
	assert.Equal(t, "pong", r.body, "body")
	cancel()
	assert.NoError(t, <-served, "ServeHTTP")
}

func TestStartHTTPRejectsANilServer(t *testing.T) {
	ln := listenSpy(t)
	_, err := factory.StartHTTP(ln, nil)
	assert.ErrorIs(t, err, scheduler.ErrInvalidOption, "StartHTTP(nil)")
	assert.True(t, ln.isClosed(), "the listener is closed")
}
