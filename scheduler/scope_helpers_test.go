package scheduler_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// The helpers of the scope tests carry an "sc" prefix so that they cannot
// clash with the helpers of the other test files of the package.

// scSched makes a scheduler with a cap of 4 (not GOMAXPROCS, so that a
// test does not depend on -cpu) that drops log output, unless opts say
// otherwise, and shuts it down when the test ends.
func scSched(t *testing.T, opts ...scheduler.SchedulerOption) *scheduler.Scheduler {
	t.Helper()
	all := append([]scheduler.SchedulerOption{scheduler.WithLimit(4), scheduler.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	s, err := scheduler.New(all...)
	require.NoError(t, err, "scheduler.New")
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

// scChild makes a child scope of parent.
func scChild(t *testing.T, parent *scheduler.Scope, opts ...scheduler.Option) *scheduler.Scope {
	t.Helper()
	sc, err := parent.NewScope(opts...)
	require.NoError(t, err, "NewScope")
	return sc
}

// scGate is a task body that says when it starts and then holds its slot
// until the gate opens. The gate opens at cleanup at the latest, before
// the scheduler shuts down.
type scGate struct {
	started, release chan struct{}
	once             sync.Once
}

func scNewGate(t *testing.T) *scGate {
	g := &scGate{started: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func (g *scGate) open() { g.once.Do(func() { close(g.release) }) }

func (g *scGate) fn(context.Context) (int, error) {
	close(g.started)
	<-g.release
	return 1, nil
}

// scHold submits a task that holds its slot until its gate opens, and
// waits until it runs.
func scHold(t *testing.T, sp scheduler.Spawner, opts ...lazytask.Option) (*lazytask.Task[int], *scGate) {
	t.Helper()
	g := scNewGate(t)
	h, err := scheduler.Submit(sp, g.fn, opts...)
	require.NoError(t, err, "Submit(holder)")
	<-g.started
	return h, g
}

// scCtxSeen is what a task saw of its context when it was canceled.
type scCtxSeen struct{ err, cause error }

// scUntilCanceled submits a task that waits for its context to end, reports
// what it saw on the returned channel and returns context.Cause(ctx). It
// waits until the task runs.
func scUntilCanceled(t *testing.T, sp scheduler.Spawner, opts ...lazytask.Option) (*lazytask.Task[int], <-chan scCtxSeen) {
	t.Helper()
	started := make(chan struct{})
	seen := make(chan scCtxSeen, 1)
	h, err := scheduler.Submit(sp, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		seen <- scCtxSeen{ctx.Err(), context.Cause(ctx)}
		return 0, context.Cause(ctx)
	}, opts...)
	require.NoError(t, err, "Submit(task that waits for its context)")
	<-started
	return h, seen
}

// scCount returns a task body that counts its runs.
func scCount(runs *atomic.Int32) func(context.Context) (int, error) {
	return func(context.Context) (int, error) {
		runs.Add(1)
		return 1, nil
	}
}

// scPeak tracks a level and the highest level it reached.
type scPeak struct{ cur, max atomic.Int64 }

func (p *scPeak) enter() {
	v := p.cur.Add(1)
	for {
		m := p.max.Load()
		if v <= m || p.max.CompareAndSwap(m, v) {
			return
		}
	}
}

func (p *scPeak) leave() { p.cur.Add(-1) }

// scLogBuf is a log destination that tests can read while tasks write.
type scLogBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *scLogBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *scLogBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// scLogger returns a text logger writing into a new buffer.
func scLogger() (*slog.Logger, *scLogBuf) {
	buf := new(scLogBuf)
	return slog.New(slog.NewTextHandler(buf, nil)), buf
}

// scFindChild returns the snapshot of the child scope named name, or
// false.
func scFindChild(snap scheduler.ScopeSnapshot, name string) (scheduler.ScopeSnapshot, bool) {
	for _, ch := range snap.Children {
		if ch.Name == name {
			return ch, true
		}
	}
	return scheduler.ScopeSnapshot{}, false
}

// scChildNames returns the names of the child scopes in a snapshot.
func scChildNames(snap scheduler.ScopeSnapshot) []string {
	var names []string
	for _, ch := range snap.Children {
		names = append(names, ch.Name)
	}
	return names
}

// scJoined returns the errors joined in err (errors.Join), or err alone.
func scJoined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

var (
	scErrA = errors.New("scope test: error a")
	scErrB = errors.New("scope test: error b")
)
