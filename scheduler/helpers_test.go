package scheduler_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

var bg = context.Background()

// quietLogger drops the supervisor's reports of failing tasks, which many
// tests cause on purpose.
var quietLogger = slog.New(slog.DiscardHandler)

// startScheduler makes a scheduler with a quiet logger (unless opts set
// one) and shuts it down when the test ends.
func startScheduler(t *testing.T, opts ...scheduler.SchedulerOption) *scheduler.Scheduler {
	t.Helper()
	s, err := scheduler.New(append([]scheduler.SchedulerOption{scheduler.WithLogger(quietLogger)}, opts...)...)
	require.NoError(t, err, "scheduler.New")
	t.Cleanup(func() { _ = s.Shutdown(bg) })
	return s
}

// gate is a task body that reports when it starts and then holds its slots
// until released. Release is idempotent and runs at cleanup, before the
// scheduler's Shutdown.
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

func (g *gate) fn(ctx context.Context) (int, error) {
	close(g.started)
	<-g.release
	return 0, nil
}

// hold submits a task that holds weight slots until its gate opens, and
// waits until it runs.
func hold(t *testing.T, sp scheduler.Spawner, opts ...lazytask.Option) (*lazytask.Task[int], *gate) {
	t.Helper()
	g := newGate(t)
	h, err := scheduler.Submit(sp, g.fn, opts...)
	require.NoError(t, err, "Submit(holder)")
	<-g.started
	return h, g
}

// runLog records the order in which task functions run.
type runLog struct {
	mu    sync.Mutex
	names []string
}

func (l *runLog) add(name string) {
	l.mu.Lock()
	l.names = append(l.names, name)
	l.mu.Unlock()
}

func (l *runLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.names...)
}

// logged returns a task function that records name when it runs.
func (l *runLog) logged(name string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		l.add(name)
		return name, nil
	}
}

// peak tracks a current level and the highest level seen.
type peak struct{ cur, max atomic.Int64 }

func (p *peak) enter(n int64) {
	v := p.cur.Add(n)
	for {
		m := p.max.Load()
		if v <= m || p.max.CompareAndSwap(m, v) {
			return
		}
	}
}

func (p *peak) leave(n int64) { p.cur.Add(-n) }

// counted returns a task function that counts its runs.
func counted(runs *atomic.Int32) func(context.Context) (int, error) {
	return func(context.Context) (int, error) {
		runs.Add(1)
		return 1, nil
	}
}

var errBoom = errors.New("boom")
