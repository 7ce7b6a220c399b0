package lazysched_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// These tests hold README.md to what its prose says, claim by claim, beyond
// what TestReadmeGoBlocksCompile checks (that its blocks build and that the
// first program prints what README shows).

func guard(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("hang: " + what)
	}
}

// README's crawler (section "Scopes"): "The first error canceled the whole
// crawl; Wait returns each failed host's first error as a
// *scheduler.ScopeError, joined." The hosts that did not fail see their
// fetches canceled; a fetch that honours its context returns the context's
// error (net/http wraps it), and that cancellation is not an error.
func TestHostileReadmeCrawlWaitReturnsOnlyTheFailedHost(t *testing.T) {
	for _, tc := range []struct {
		name string
		ret  func(ctx context.Context) error
	}{
		{"ctx.Err", func(ctx context.Context) error { return ctx.Err() }},
		{"wrapped ctx.Err", func(ctx context.Context) error { return fmt.Errorf("Get %q: %w", "http://b/", ctx.Err()) }},
		{"context.Cause", func(ctx context.Context) error { return context.Cause(ctx) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := scheduler.New(scheduler.WithLimit(16))
			require.NoError(t, err)
			defer s.Shutdown(ctx)
			crawl, err := s.Root().NewScope(scheduler.WithName("crawl"), scheduler.FailFast())
			require.NoError(t, err)
			errA := errors.New("a: 500")
			var started sync.WaitGroup
			started.Add(4) // b's and c's two fetches each
			for _, host := range []string{"a", "b", "c"} {
				perHost, err := crawl.NewScope(scheduler.WithName(host), scheduler.WithLimit(4), scheduler.FailFast())
				require.NoError(t, err)
				for range 2 {
					_, err := scheduler.Go(perHost, func(ctx context.Context) error {
						if host == "a" {
							started.Wait() // every other fetch is in flight
							return errA
						}
						started.Done()
						<-ctx.Done()
						return tc.ret(ctx)
					})
					require.NoError(t, err)
				}
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			err = crawl.Wait(wctx)
			require.Error(t, err)
			require.NotErrorIs(t, err, context.DeadlineExceeded, "crawl.Wait hung")
			var se *scheduler.ScopeError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "a", se.Scope)
			assert.ErrorIs(t, se.Err, errA)
			var joined interface{ Unwrap() []error }
			if errors.As(err, &joined) {
				assert.Len(t, joined.Unwrap(), 1, "only host a failed; got %v", err)
			}
			assert.NotErrorIs(t, err, context.Canceled, "the cancellations the failure caused are not errors: %v", err)
		})
	}
}

// "s.Force(h) (or h.Start()) runs it now, over the cap, and counts it in
// Stats().OverCap while it runs".
func TestHostileReadmeStartCountsOverCap(t *testing.T) {
	ctx := context.Background()
	s, err := scheduler.New(scheduler.WithLimit(1))
	require.NoError(t, err)
	defer s.Shutdown(ctx)
	gate := make(chan struct{})
	_, err = scheduler.Go(s, func(context.Context) error { <-gate; return nil })
	require.NoError(t, err)
	running := make(chan struct{})
	h, err := scheduler.Go(s, func(context.Context) error { close(running); <-gate; return nil })
	require.NoError(t, err)
	require.Equal(t, lazytask.Queued, h.State())
	require.NoError(t, h.Start())
	guard(t, running, "a started task never ran")
	st := s.Stats()
	assert.Equal(t, 2, st.Running)
	assert.Equal(t, 1, st.OverCap)
	assert.Equal(t, 0, st.Queued)
	close(gate)
	require.NoError(t, h.Wait(ctx))
	require.NoError(t, s.Wait(ctx))
	assert.Equal(t, 0, s.Stats().OverCap)
}

// "s.Promote(h) puts it next in line, ahead of every priority".
func TestHostileReadmePromoteAheadOfEveryPriority(t *testing.T) {
	ctx := context.Background()
	s, err := scheduler.New(scheduler.WithLimit(1))
	require.NoError(t, err)
	defer s.Shutdown(ctx)
	gate := make(chan struct{})
	_, err = scheduler.Go(s, func(context.Context) error { <-gate; return nil })
	require.NoError(t, err)
	var mu sync.Mutex
	var order []string
	rec := func(name string) func(context.Context) error {
		return func(context.Context) error { mu.Lock(); order = append(order, name); mu.Unlock(); return nil }
	}
	_, err = scheduler.Go(s, rec("high"), lazytask.WithPriority(100))
	require.NoError(t, err)
	low, err := scheduler.Go(s, rec("low"), lazytask.WithPriority(-100))
	require.NoError(t, err)
	require.NoError(t, s.Promote(low))
	close(gate)
	require.NoError(t, s.Wait(ctx))
	assert.Equal(t, []string{"low", "high"}, order)
}

// "Shutdown(ctx) ... drains until ctx ends, then cancels what remains and
// waits; a second call cancels at once."
func TestHostileReadmeSecondShutdownCancelsAtOnce(t *testing.T) {
	ctx := context.Background()
	s, err := scheduler.New(scheduler.WithLimit(1))
	require.NoError(t, err)
	running := make(chan struct{})
	h, err := scheduler.Go(s, func(ctx context.Context) error { close(running); <-ctx.Done(); return ctx.Err() })
	require.NoError(t, err)
	queued, err := scheduler.Go(s, func(context.Context) error { return nil })
	require.NoError(t, err)
	guard(t, running, "the first task never ran")
	first := make(chan error, 1)
	go func() { first <- s.Shutdown(ctx) }() // drains for ever: ctx never ends
	second := make(chan error, 1)
	go func() { second <- s.Shutdown(ctx) }()
	var err1, err2 error
	select {
	case err1 = <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("hang: the first Shutdown never returned after a second call")
	}
	select {
	case err2 = <-second:
	case <-time.After(10 * time.Second):
		t.Fatal("hang: the second Shutdown never returned")
	}
	t.Logf("first Shutdown: %v; second: %v", err1, err2)
	assert.Equal(t, lazytask.Canceled, queued.State(), "what remained is canceled")
	assert.True(t, h.State().Terminal())
}

// "if the scope closes first, the task is canceled with
// lazytask.ErrScopeClosed."
func TestHostileReadmeLazyTaskOfAClosedScope(t *testing.T) {
	ctx := context.Background()
	s, err := scheduler.New()
	require.NoError(t, err)
	defer s.Shutdown(ctx)
	sc, err := s.Root().NewScope(scheduler.WithName("job"))
	require.NoError(t, err)
	h := scheduler.NewTask(sc, func(context.Context) (int, error) { return 1, nil })
	require.Equal(t, lazytask.Lazy, h.State())
	require.NoError(t, sc.Shutdown(ctx))
	guard(t, h.Done(), "the lazy task of a closed scope hangs")
	assert.Equal(t, lazytask.Canceled, h.State())
	assert.ErrorIs(t, h.Err(), lazytask.ErrScopeClosed)
}

// "Cancel(cause) ends the subtree's queued tasks Canceled, cancels running
// tasks' contexts with that cause (context.Cause), and a task submitted
// later never runs."
func TestHostileReadmeScopeCancelIsLevelTriggered(t *testing.T) {
	ctx := context.Background()
	s, err := scheduler.New(scheduler.WithLimit(1))
	require.NoError(t, err)
	defer s.Shutdown(ctx)
	sc, err := s.Root().NewScope()
	require.NoError(t, err)
	child, err := sc.NewScope()
	require.NoError(t, err)
	running := make(chan struct{})
	cause := errors.New("operator said stop")
	var seen error
	runner, err := scheduler.Go(child, func(ctx context.Context) error {
		close(running)
		<-ctx.Done()
		seen = context.Cause(ctx)
		return nil
	})
	require.NoError(t, err)
	guard(t, running, "never ran")
	queued, err := scheduler.Go(child, func(context.Context) error { t.Error("a queued task of a canceled scope ran"); return nil })
	require.NoError(t, err)
	sc.Cancel(cause)
	require.NoError(t, runner.Wait(ctx))
	assert.ErrorIs(t, seen, cause)
	guard(t, queued.Done(), "queued task")
	assert.Equal(t, lazytask.Canceled, queued.State())
	later, err := scheduler.Go(child, func(context.Context) error { t.Error("a task submitted later ran"); return nil })
	assert.ErrorIs(t, err, scheduler.ErrScopeCanceled)
	assert.Equal(t, lazytask.Canceled, later.State())
}

// "pond.WithQueueSize(n) and pool.TrySubmit(f)" ->
// "scheduler.WithQueueLimit(n): Submit returns scheduler.ErrQueueFull,
// scheduler.SubmitWait(ctx, s, f) waits for room".
func TestHostileReadmeQueueLimit(t *testing.T) {
	ctx := context.Background()
	s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
	require.NoError(t, err)
	defer s.Shutdown(ctx)
	gate := make(chan struct{})
	_, err = scheduler.Go(s, func(context.Context) error { <-gate; return nil })
	require.NoError(t, err)
	_, err = scheduler.Go(s, func(context.Context) error { return nil })
	require.NoError(t, err)
	full, err := scheduler.Go(s, func(context.Context) error { return nil })
	assert.ErrorIs(t, err, scheduler.ErrQueueFull)
	assert.True(t, full.Info().Rejected)
	got := make(chan error, 1)
	go func() {
		h, err := scheduler.SubmitWait(ctx, s, func(context.Context) (int, error) { return 7, nil })
		if err == nil {
			_, err = h.Await(ctx)
		}
		got <- err
	}()
	close(gate)
	select {
	case err := <-got:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("hang: SubmitWait never found room")
	}
}

// "a queued job costs one 64-byte handle (a Task[struct{}]; 80 bytes for a
// one-word result)": the handle's size, rounded up to the allocator's size
// class (64, 80).
func TestHostileReadmeHandleSizes(t *testing.T) {
	assert.EqualValues(t, 64, unsafe.Sizeof(lazytask.Task[struct{}]{}))
	assert.LessOrEqual(t, unsafe.Sizeof(lazytask.Task[int]{}), uintptr(80))
	assert.Greater(t, unsafe.Sizeof(lazytask.Task[int]{}), uintptr(64))
}

// A slog handler that keeps the records.
type keepHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *keepHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *keepHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *keepHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *keepHandler) WithGroup(string) slog.Handler      { return h }
func (h *keepHandler) errs() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []error
	for _, r := range h.recs {
		r.Attrs(func(a slog.Attr) bool {
			if e, ok := a.Value.Any().(error); ok {
				out = append(out, e)
			}
			return true
		})
	}
	return out
}

// "Supervise(handler) is the default of every scope, the root included:
// errors go to the handler (by default log/slog) ... Only a fail-fast scope
// fails as a whole: it reaches its parent as one *ScopeError, under the
// parent's policy (the root logs it)."
func TestHostileReadmePoliciesReachTheRootLogger(t *testing.T) {
	ctx := context.Background()
	kh := &keepHandler{}
	s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithLogger(slog.New(kh)))
	require.NoError(t, err)
	defer s.Shutdown(ctx)
	sup, err := s.Root().NewScope(scheduler.WithName("sup"))
	require.NoError(t, err)
	ff, err := s.Root().NewScope(scheduler.WithName("ff"), scheduler.FailFast())
	require.NoError(t, err)
	errSup, errFF := errors.New("sup task"), errors.New("ff task")
	_, err = scheduler.Go(sup, func(context.Context) error { return errSup })
	require.NoError(t, err)
	_, err = scheduler.Go(ff, func(context.Context) error { return errFF })
	require.NoError(t, err)
	require.NoError(t, sup.Shutdown(ctx))
	assert.ErrorIs(t, ff.Shutdown(ctx), errFF)
	require.NoError(t, s.Shutdown(ctx))
	var sawSup, sawFF int
	for _, e := range kh.errs() {
		var se *scheduler.ScopeError
		switch {
		case errors.As(e, &se):
			assert.Equal(t, "ff", se.Scope)
			assert.ErrorIs(t, se.Err, errFF)
			sawFF++
		case errors.Is(e, errSup):
			sawSup++
		}
	}
	assert.Equal(t, 1, sawSup, "the supervisor child's error, logged once")
	assert.Equal(t, 1, sawFF, "the fail-fast child, logged once by the root as a *ScopeError")
}

// Migration table, errgroup with every error: "sc.Shutdown(ctx) (waits like
// Wait, every error joined, and releases the scope: one only waited for
// stays in the tree until its parent closes)". (A fail-fast scope that
// failed is canceled, and so released once its tasks end, I12.)
func TestHostileReadmeScopeShutdownJoinsAndReleases(t *testing.T) {
	ctx := context.Background()
	s, err := scheduler.New(scheduler.WithLimit(4))
	require.NoError(t, err)
	defer s.Shutdown(ctx)
	shut, err := s.Root().NewScope(scheduler.WithName("shut"), scheduler.FailFast(), scheduler.WithLimit(8))
	require.NoError(t, err)
	e1, e2 := errors.New("one"), errors.New("two")
	var both sync.WaitGroup
	both.Add(2)
	for _, e := range []error{e1, e2} {
		_, err := scheduler.Go(shut, func(context.Context) error { both.Done(); both.Wait(); return e })
		require.NoError(t, err)
	}
	serr := shut.Shutdown(ctx)
	assert.ErrorIs(t, serr, e1)
	assert.ErrorIs(t, serr, e2)

	waited, err := s.Root().NewScope(scheduler.WithName("waited"), scheduler.FailFast())
	require.NoError(t, err)
	closed, err := s.Root().NewScope(scheduler.WithName("closed"), scheduler.FailFast())
	require.NoError(t, err)
	for _, sc := range []*scheduler.Scope{waited, closed} {
		_, err := scheduler.Go(sc, func(context.Context) error { return nil })
		require.NoError(t, err)
	}
	require.NoError(t, waited.Wait(ctx))
	require.NoError(t, closed.Shutdown(ctx))
	names := map[string]bool{}
	for _, c := range s.Snapshot().Children {
		names[c.Name] = true
	}
	assert.True(t, names["waited"], "a scope only waited for stays in the tree")
	assert.False(t, names["closed"], "a scope shut down is released from the tree")
	assert.False(t, names["shut"], "a scope shut down is released from the tree")
}
