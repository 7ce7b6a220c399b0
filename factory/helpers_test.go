package factory_test

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

var bg = context.Background()

// quietLogger drops the supervisor's reports of the failures tests cause on
// purpose.
var quietLogger = slog.New(slog.DiscardHandler)

// newScheduler makes a scheduler with a quiet logger and shuts it down when
// the test ends.
func newScheduler(t *testing.T, opts ...scheduler.SchedulerOption) *scheduler.Scheduler {
	t.Helper()
	s, err := scheduler.New(append([]scheduler.SchedulerOption{scheduler.WithLogger(quietLogger)}, opts...)...)
	require.NoError(t, err, "scheduler.New")
	t.Cleanup(func() { shutdownBounded(s) })
	return s
}

// bounded returns a context that ends the test's waits if the code under
// test deadlocks; it is never what a passing test waits for.
func bounded(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// gate is a task body's barrier: started is closed when the body runs, and
// the body returns once release is closed (or its context ends, for the
// cooperative kind).
type gate struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{started: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

// wait blocks until the gate opens, ignoring the task's context.
func (g *gate) wait() {
	close(g.started)
	<-g.release
}

// waitCtx blocks until the gate opens or ctx ends, and returns the cause in
// the second case.
func (g *gate) waitCtx(ctx context.Context) error {
	close(g.started)
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// awaitClosed fails the test if ch is not closed before ctx ends.
func awaitClosed(t *testing.T, ctx context.Context, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatalf("%s: still waiting when the test's bound passed", what)
	}
}

// waitFor yields until cond holds, and fails the test if the test's bound
// passes first. It is for states that no event announces: OnQueue fires
// as a task is handed to its scope, before it is in the queue.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx := bounded(t)
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("%s: not so when the test's bound passed", what)
		}
		runtime.Gosched()
	}
}

// shutdownBounded shuts s down with a grace period, so that a deadlock
// fails the test instead of hanging it: past the grace period the tasks are
// canceled.
func shutdownBounded(s *scheduler.Scheduler) {
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
}
