package scheduler_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A create or queue hook that calls Start on the task it sees before its
// handoff gets lazytask.ErrHandingOver: the task is the scheduler's, and
// runs in it, under its cap and counted. Start used to run it on a
// goroutine of its own, away from the scheduler: three such tasks ran at
// once at cap 1, Stats counted none, and Shutdown did not wait for them
// (a hostile review, 2026-12-07).
func TestStartFromAHookBeforeTheHandoffIsRefused(t *testing.T) {
	for _, kind := range []string{"OnCreate", "OnQueue"} {
		t.Run(kind, func(t *testing.T) {
			var startErrs []error
			hook := func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
				startErrs = append(startErrs, h.Start())
			}
			hooks := scheduler.Hooks{OnCreate: hook}
			if kind == "OnQueue" {
				hooks = scheduler.Hooks{OnQueue: hook}
			}
			s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithHooks(hooks))
			require.NoError(t, err)
			var now, peak atomic.Int32
			fn := func(context.Context) (int, error) {
				n := now.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				now.Add(-1)
				return 1, nil
			}
			var hs []*lazytask.Task[int]
			for range 3 {
				h, err := scheduler.Submit(s, fn)
				require.NoError(t, err)
				hs = append(hs, h)
			}
			// NewTask's OnCreate sees it before it is bound, and its OnQueue
			// when Enqueue hands it over: refused there too.
			lz := scheduler.NewTask(s, fn)
			require.NoError(t, s.Enqueue(lz))
			hs = append(hs, lz)
			st := s.Stats()
			assert.Equal(t, uint64(len(hs)), st.Created, "Stats().Created")
			assert.Zero(t, st.ForceRuns, "Stats().ForceRuns")
			require.NoError(t, s.Shutdown(context.Background()))
			for _, h := range hs {
				assert.Equal(t, lazytask.Succeeded, h.State())
			}
			assert.Equal(t, int32(1), peak.Load(), "tasks running at once at cap 1")
			for _, err := range startErrs {
				assert.ErrorIs(t, err, lazytask.ErrHandingOver, "Start from %s", kind)
			}
			assert.NotEmpty(t, startErrs)
		})
	}
}

// A create or queue hook that enqueues the task it sees before its
// handoff is refused (scheduler.ErrNotQueued, lazytask.ErrHandingOver),
// and the hooks fire once: the Enqueue fired them again, which enqueued
// again, until the stack overflowed and the process died (the same
// review). The task is queued once, by the handoff under way.
func TestEnqueueFromAHookBeforeTheHandoffIsRefused(t *testing.T) {
	for _, kind := range []string{"OnCreate", "OnQueue"} {
		t.Run(kind, func(t *testing.T) {
			var s *scheduler.Scheduler
			var fires atomic.Int32
			var enqErrs []error
			hook := func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
				if fires.Add(1) > 5 {
					return // the bug's recursion, cut short
				}
				enqErrs = append(enqErrs, s.Enqueue(h))
			}
			hooks := scheduler.Hooks{OnCreate: hook}
			if kind == "OnQueue" {
				hooks = scheduler.Hooks{OnQueue: hook}
			}
			var err error
			s, err = scheduler.New(scheduler.WithLimit(1), scheduler.WithHooks(hooks))
			require.NoError(t, err)
			h, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
			require.NoError(t, err)
			lz := lazytask.New(func(context.Context) (int, error) { return 2, nil })
			require.NoError(t, s.Enqueue(lz), "Enqueue of a task made elsewhere")
			bound := scheduler.NewTask(s, func(context.Context) (int, error) { return 3, nil })
			require.NoError(t, s.Enqueue(bound), "Enqueue of a task NewTask made")
			require.NoError(t, s.Shutdown(context.Background()))
			for i, x := range []lazytask.Handle{h, lz, bound} {
				assert.Equal(t, lazytask.Succeeded, x.State(), "task %d", i)
			}
			assert.Equal(t, int32(3), fires.Load(), "%s fired once per task", kind)
			for _, err := range enqErrs {
				assert.ErrorIs(t, err, scheduler.ErrNotQueued)
				assert.ErrorIs(t, err, lazytask.ErrHandingOver)
			}
			st := s.Stats()
			assert.Equal(t, uint64(3), st.Created, "Stats().Created")
			assert.Equal(t, uint64(3), st.Succeeded, "Stats().Succeeded")
		})
	}
}

// Force from a create hook still runs the task now, in the scheduler,
// over the cap and counted: the explicit way.
func TestForceFromACreateHookRunsTheTaskInTheScheduler(t *testing.T) {
	var s *scheduler.Scheduler
	var forceErr error
	var err error
	s, err = scheduler.New(scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnCreate: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { forceErr = s.Force(h) },
	}))
	require.NoError(t, err)
	h, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	v, err := h.Await(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, v)
	require.NoError(t, forceErr)
	require.NoError(t, s.Shutdown(context.Background()))
	st := s.Stats()
	assert.Equal(t, uint64(1), st.ForceRuns, "Stats().ForceRuns")
	assert.Equal(t, uint64(1), st.Created, "Stats().Created")
}

// A Start from a goroutine that a create hook started, racing the
// handoff, is refused until the task is queued, and then force-runs it in
// the scheduler, counted: it never runs the task alone. The mark used to
// end with the hooks, before the handoff, and such a Start ran the task
// outside the scheduler (a hostile review, 2026-12-07: 62 tasks in 2,001).
func TestStartRacingTheHandoffFromAHooksGoroutineRunsInTheScheduler(t *testing.T) {
	var wg sync.WaitGroup
	var started atomic.Int32
	s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnCreate: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					err := h.Start()
					if errors.Is(err, lazytask.ErrHandingOver) {
						runtime.Gosched()
						continue
					}
					if err == nil {
						started.Add(1)
					}
					return
				}
			}()
		},
	}))
	require.NoError(t, err)
	release := make(chan struct{})
	_, err = scheduler.Go(s, func(context.Context) error { <-release; return nil })
	require.NoError(t, err)
	const n = 500
	var hs []*lazytask.Task[struct{}]
	for range n {
		h, err := scheduler.Go(s, func(context.Context) error { return nil })
		require.NoError(t, err)
		hs = append(hs, h)
	}
	wg.Wait()
	close(release)
	require.NoError(t, s.Shutdown(context.Background()))
	for i, h := range hs {
		require.Equal(t, "root", h.Info().Scope, "task %d ran in no scope", i)
		require.Equal(t, lazytask.Succeeded, h.State())
	}
	st := s.Stats()
	assert.Equal(t, uint64(n+1), st.Created, "Stats().Created")
	assert.Equal(t, uint64(started.Load()), st.ForceRuns, "the Starts that ran a task are force-runs")
}

// Two goroutines enqueue one task made elsewhere at once: its hooks fire
// once, for the handoff that won; the other Enqueue is refused or finds
// the task queued. Both used to fire the hooks, and the first to end
// cleared the other's mark (the same review).
func TestConcurrentEnqueuesOfOneTaskFireItsHooksOnce(t *testing.T) {
	var creates atomic.Int32
	s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnCreate: func(context.Context, *scheduler.Scope, lazytask.Handle) { creates.Add(1) },
	}))
	require.NoError(t, err)
	const n = 300
	var hs []*lazytask.Task[int]
	for range n {
		lz := lazytask.New(func(context.Context) (int, error) { return 1, nil })
		hs = append(hs, lz)
		var wg sync.WaitGroup
		var ok atomic.Int32
		for range 2 {
			wg.Go(func() {
				if s.Enqueue(lz) == nil {
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		require.Equal(t, int32(1), ok.Load(), "Enqueues that took the task")
	}
	require.NoError(t, s.Shutdown(context.Background()))
	for _, h := range hs {
		require.Equal(t, lazytask.Succeeded, h.State())
	}
	assert.Equal(t, int32(n), creates.Load(), "OnCreate fired once per task")
	assert.Equal(t, uint64(n), s.Stats().Created)
}

// A queue hook of a task that NewTask made calls runtime.Goexit during
// Enqueue: the Enqueue's goroutine exits, the task stays Lazy and bound,
// and a later Start force-runs it. Its mark used to outlive the Enqueue,
// refusing every Start and Enqueue after (the mark's own review).
func TestAGoexitInAQueueHookLeavesTheTaskStartable(t *testing.T) {
	var once atomic.Bool
	s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithLogger(slog.New(slog.DiscardHandler)), scheduler.WithHooks(scheduler.Hooks{
		OnQueue: func(context.Context, *scheduler.Scope, lazytask.Handle) {
			if once.CompareAndSwap(false, true) {
				runtime.Goexit()
			}
		},
	}))
	require.NoError(t, err)
	h := scheduler.NewTask(s, func(context.Context) (int, error) { return 1, nil })
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Enqueue(h)
	}()
	<-done
	require.Equal(t, lazytask.Lazy, h.State())
	require.NoError(t, h.Start(), "Start after the Goexit")
	v, err := h.Await(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, v)
	require.NoError(t, s.Shutdown(context.Background()))
}
