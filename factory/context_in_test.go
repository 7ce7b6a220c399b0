package factory_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

type reqKey struct{}

// seen records, per task name, the value of reqKey that the OnStart hook
// found in the task's context: what a tracer's hook would see.
type seen struct {
	mu sync.Mutex
	by map[string]any
}

func (v *seen) hooks() scheduler.Hooks {
	return scheduler.Hooks{OnStart: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.by == nil {
			v.by = map[string]any{}
		}
		v.by[h.Name()] = ctx.Value(reqKey{})
		return ctx
	}}
}

func (v *seen) all() []any {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []any
	for _, x := range v.by {
		out = append(out, x)
	}
	return out
}

// The combinators' tasks carry the values of the context they are given,
// both into the function and into the hooks.
func TestCombinatorTasksCarryTheCallersValues(t *testing.T) {
	var v seen
	s := newScheduler(t, scheduler.WithLimit(2), scheduler.WithHooks(v.hooks()))
	f := factory.Of(s)
	ctx := context.WithValue(bounded(t), reqKey{}, "req-1")
	fn := func(ctx context.Context) (any, error) { return ctx.Value(reqKey{}), nil }

	vals, err := factory.Gather(ctx, f, fn, fn)
	require.NoError(t, err)
	assert.Equal(t, []any{"req-1", "req-1"}, vals, "Gather")
	got, err := factory.Race(ctx, f, fn, fn)
	require.NoError(t, err)
	assert.Equal(t, "req-1", got, "Race")
	out, err := factory.Map(ctx, f, []int{1, 2, 3}, 2, func(ctx context.Context, _ int) (any, error) { return ctx.Value(reqKey{}), nil })
	require.NoError(t, err)
	assert.Equal(t, []any{"req-1", "req-1", "req-1"}, out, "Map")
	for _, r := range factory.AsCompleted(ctx, f, fn, fn) {
		require.NoError(t, r.Err)
		assert.Equal(t, "req-1", r.Value, "AsCompleted")
	}
	require.NotEmpty(t, v.all())
	for _, x := range v.all() {
		assert.Equal(t, "req-1", x, "a hook saw the task's context without the caller's values")
	}
}

// Serve's handlers carry the values of Serve's context; hooks see them.
func TestServeHandlersCarryServesValues(t *testing.T) {
	var v seen
	s := newScheduler(t, scheduler.WithHooks(v.hooks()))
	ctx, stop := context.WithCancel(context.WithValue(bounded(t), reqKey{}, "serve-ctx"))
	ln := listen(t)
	got := make(chan any, 1)
	served := make(chan error, 1)
	go func() {
		served <- factory.Serve(ctx, ln, func(ctx context.Context, conn net.Conn) error {
			got <- ctx.Value(reqKey{})
			return nil
		}, factory.WithScope(s))
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	assert.Equal(t, "serve-ctx", <-got, "the handler's context")
	_ = conn.Close()
	stop()
	require.NoError(t, <-served)
	var conns int
	v.mu.Lock()
	for name, x := range v.by {
		if len(name) > 5 && name[:5] == "conn " {
			conns++
			assert.Equal(t, "serve-ctx", x, "the hook of %s", name)
		}
	}
	v.mu.Unlock()
	assert.Equal(t, 1, conns, "connection tasks the hook saw")
}

// An HTTP request's task carries the request's values: a hook (a tracer)
// sees what the server's BaseContext and middleware put there.
func TestServeHTTPTasksCarryTheRequestsValues(t *testing.T) {
	var v seen
	s := newScheduler(t, scheduler.WithHooks(v.hooks()))
	mux := http.NewServeMux()
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Context().Value(reqKey{}).(string))
	})
	srv := &http.Server{Handler: mux, BaseContext: func(net.Listener) context.Context {
		return context.WithValue(context.Background(), reqKey{}, "from-request")
	}}
	ln := listen(t)
	ctx, stop := context.WithCancel(bounded(t))
	served := make(chan error, 1)
	go func() { served <- factory.ServeHTTP(ctx, ln, srv, factory.WithScope(s)) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/a")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, "from-request", string(body))
	stop()
	require.NoError(t, <-served)
	v.mu.Lock()
	defer v.mu.Unlock()
	assert.Equal(t, "from-request", v.by["GET /a"], "the hook of the request's task")
}
