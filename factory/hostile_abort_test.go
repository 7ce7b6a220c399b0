package factory_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// net/http documents http.ErrAbortHandler as the panic that aborts a
// response on purpose, without a log: httputil.ReverseProxy panics with it
// when the client goes away mid-copy. The wrapper made it a
// *lazytask.PanicError, a failure: the supervisor logged a stack for each
// such request, and a fail-fast handler scope (below) stopped the whole
// server at the first client that went away. It must abort that response
// and nothing else: the task ends Canceled with http.ErrAbortHandler as the
// cause, the policy sees no failure, the next request is served.
func TestHostileServeHTTPErrAbortHandlerAbortsOnlyItsResponse(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/abort", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("partial"))
		panic(http.ErrAbortHandler)
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	ended := make(chan lazytask.Info, 4)
	srv, url := startHTTP(t, mux, factory.WithHandlerScope(scheduler.FailFast(), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { ended <- h.Info() },
	})))
	c := httpClient(t)
	r := get(bounded(t), c, url+"/abort")
	assert.Error(t, r.err, "GET /abort: the response was aborted")
	info := <-ended
	assert.Equal(t, lazytask.Canceled, info.State, "the aborted request's task")
	assert.ErrorIs(t, info.Err, http.ErrAbortHandler, "its error")
	_, isPanic := info.Err.(*lazytask.PanicError)
	assert.False(t, isPanic, "not a panic failure")
	select {
	case <-srv.Done():
		t.Fatal("the server stopped: the abort was taken for a failure")
	default:
	}
	r = get(bounded(t), c, url+"/ok")
	require.NoError(t, r.err, "GET /ok after the abort")
	assert.Equal(t, "ok", r.body)
	assert.NoError(t, srv.Shutdown(bounded(t)), "Shutdown: no failure to report")
}
