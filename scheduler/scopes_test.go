package scheduler_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func newSched(t *testing.T, opts ...scheduler.SchedulerOption) *scheduler.Scheduler {
	t.Helper()
	s, err := scheduler.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func TestFailFastScopeCancelsSiblingsAndJoinsRealErrors(t *testing.T) {
	s := newSched(t, scheduler.WithLimit(4))
	g, err := s.Root().NewScope(scheduler.FailFast(), scheduler.WithName("group"))
	require.NoError(t, err)
	boom := errors.New("boom")
	started := make(chan struct{})
	sib, _ := scheduler.Submit(g, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		return 0, ctx.Err()
	})
	<-started
	_, err = scheduler.Submit(g, func(ctx context.Context) (int, error) { return 0, boom })
	require.NoError(t, err)
	werr := g.Wait(context.Background())
	assert.ErrorIs(t, werr, boom)
	assert.Equal(t, lazytask.Canceled, sib.State(), "sibling state")
	assert.ErrorIs(t, context.Cause(g.Context()), boom)
	_, err = scheduler.Submit(g, func(ctx context.Context) (int, error) { return 1, nil })
	assert.ErrorIs(t, err, scheduler.ErrScopeCanceled)
}

func TestNestedCapsHoldAtEveryLevel(t *testing.T) {
	s := newSched(t, scheduler.WithLimit(6))
	var peakA, curA, peakAll, curAll atomic.Int64
	track := func(cur, peak *atomic.Int64) func() {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		return func() { cur.Add(-1) }
	}
	a, err := s.Root().NewScope(scheduler.WithLimit(2), scheduler.WithName("a"))
	require.NoError(t, err)
	b, err := s.Root().NewScope(scheduler.WithLimit(3), scheduler.WithName("b"))
	require.NoError(t, err)
	for i := range 400 {
		sc := a
		if i%2 == 1 {
			sc = b
		}
		_, err := scheduler.Go(sc, func(ctx context.Context) error {
			doneAll := track(&curAll, &peakAll)
			defer doneAll()
			if sc == a {
				doneA := track(&curA, &peakA)
				defer doneA()
			}
			return nil
		})
		require.NoError(t, err)
	}
	require.NoError(t, s.Wait(context.Background()))
	assert.LessOrEqual(t, peakA.Load(), int64(2), "peak in scope a")
	assert.LessOrEqual(t, peakAll.Load(), int64(6), "peak overall")
}

func TestNestedFanOutOnOneCapCompletes(t *testing.T) {
	// pond #56: outer tasks fill the cap and each awaits inner tasks.
	s := newSched(t, scheduler.WithLimit(2))
	outers := make([]*lazytask.Task[int], 4)
	for i := range outers {
		outers[i], _ = scheduler.Submit(s, func(ctx context.Context) (int, error) {
			sum := 0
			inner := make([]*lazytask.Task[int], 4)
			for j := range inner {
				inner[j], _ = scheduler.Submit(s, func(ctx context.Context) (int, error) { return j, nil })
			}
			for _, h := range inner {
				v, err := h.Await(ctx)
				if err != nil {
					return 0, err
				}
				sum += v
			}
			return sum, nil
		})
	}
	for _, h := range outers {
		v, err := h.Await(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 6, v)
	}
}

func TestScopeShutdownCancelsNeverStartedLazyTasks(t *testing.T) {
	s := newSched(t)
	sc, err := s.Root().NewScope()
	require.NoError(t, err)
	ran := false
	h := scheduler.NewTask(sc, func(ctx context.Context) (int, error) { ran = true; return 1, nil })
	require.NoError(t, sc.Shutdown(context.Background()))
	_, err = h.Await(context.Background())
	assert.ErrorIs(t, err, lazytask.ErrScopeClosed)
	assert.Equal(t, lazytask.Canceled, h.State())
	assert.False(t, ran)
}

func TestCancelScopeCancelsSubtreeQueuedAndRunning(t *testing.T) {
	s := newSched(t, scheduler.WithLimit(1))
	parent, _ := s.Root().NewScope()
	child, _ := parent.NewScope()
	started := make(chan struct{})
	cause := errors.New("stop")
	running, _ := scheduler.Submit(child, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		return 0, context.Cause(ctx)
	})
	<-started
	queued, _ := scheduler.Submit(child, func(ctx context.Context) (int, error) { return 1, nil })
	parent.Cancel(cause)
	_, err := queued.Await(context.Background())
	assert.ErrorIs(t, err, cause)
	_, err = running.Await(context.Background())
	assert.ErrorIs(t, err, cause)
	assert.Equal(t, lazytask.Canceled, running.State())
	_, err = scheduler.Submit(child, func(ctx context.Context) (int, error) { return 1, nil })
	assert.ErrorIs(t, err, scheduler.ErrScopeCanceled)
}

func TestHooksSeeEveryStep(t *testing.T) {
	var created, queued, started, done atomic.Int64
	s := newSched(t, scheduler.WithHooks(scheduler.Hooks{
		OnCreate: func(context.Context, *scheduler.Scope, lazytask.Handle) { created.Add(1) },
		OnQueue:  func(context.Context, *scheduler.Scope, lazytask.Handle) { queued.Add(1) },
		OnStart:  func(context.Context, *scheduler.Scope, lazytask.Handle) context.Context { started.Add(1); return nil },
		OnDone:   func(context.Context, *scheduler.Scope, lazytask.Handle) { done.Add(1) },
	}))
	child, _ := s.Root().NewScope()
	for range 10 {
		_, err := scheduler.Go(child, func(ctx context.Context) error { return nil })
		require.NoError(t, err)
	}
	require.NoError(t, s.Shutdown(context.Background()))
	assert.Equal(t, []int64{10, 10, 10, 10}, []int64{created.Load(), queued.Load(), started.Load(), done.Load()})
}
