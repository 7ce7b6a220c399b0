package pondexec_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alitto/pond/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/pondexec"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

var bg = context.Background()

var quiet = scheduler.WithLogger(slog.New(slog.DiscardHandler))

func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newPool makes a pond pool that is stopped when the test ends, after the
// scheduler using it (cleanups run last-registered first).
func newPool(t *testing.T, n int, opts ...pond.Option) pond.Pool {
	p := pond.NewPool(n, opts...)
	t.Cleanup(p.StopAndWait)
	return p
}

func newScheduler(t *testing.T, pool pond.Pool, opts ...scheduler.SchedulerOption) *scheduler.Scheduler {
	t.Helper()
	s, err := pondexec.New(pool, append([]scheduler.SchedulerOption{quiet}, opts...)...)
	require.NoError(t, err, "pondexec.New")
	t.Cleanup(func() { _ = s.Shutdown(bg) })
	return s
}

func TestTasksRunOnThePoolUnderTheSchedulersCapWithHooks(t *testing.T) {
	pool := pond.NewPool(8)
	var starts, dones atomic.Int32
	s, err := pondexec.New(pool, quiet, scheduler.WithLimit(2), scheduler.WithHooks(scheduler.Hooks{
		OnStart: func(context.Context, *scheduler.Scope, lazytask.Handle) context.Context { starts.Add(1); return nil },
		OnDone:  func(context.Context, *scheduler.Scope, lazytask.Handle) { dones.Add(1) },
	}))
	require.NoError(t, err, "pondexec.New")

	release := make(chan struct{})
	started := make(chan struct{}, 3)
	body := func(ctx context.Context) (int, error) {
		started <- struct{}{}
		<-release
		return 1, nil
	}
	var tasks []*lazytask.Task[int]
	for range 3 {
		task, err := scheduler.Submit(s, body)
		require.NoError(t, err, "Submit")
		tasks = append(tasks, task)
	}
	<-started
	<-started
	assert.Equal(t, int64(2), pool.RunningWorkers(), "pool workers running the two admitted tasks")
	assert.Equal(t, uint64(2), pool.SubmittedTasks(), "runs handed to the pool")
	assert.Equal(t, lazytask.Queued, tasks[2].State(), "the third task, over the cap")
	assert.Equal(t, 2, s.Stats().Running, "Stats().Running")

	close(release)
	for i, task := range tasks {
		v, err := task.Await(bounded(t))
		require.NoError(t, err, "task %d", i)
		assert.Equal(t, 1, v, "task %d's value", i)
	}
	require.NoError(t, s.Shutdown(bg), "Shutdown")
	pool.StopAndWait()
	assert.Equal(t, pool.SubmittedTasks(), pool.CompletedTasks(), "pool runs completed")
	assert.Equal(t, [2]int32{3, 3}, [2]int32{starts.Load(), dones.Load()}, "OnStart and OnDone calls")
}

func TestAStoppedPoolFallsBackToGoroutines(t *testing.T) {
	pool := pond.NewPool(4)
	pool.StopAndWait()
	s := newScheduler(t, pool)
	task, err := scheduler.Submit(s, func(context.Context) (string, error) { return "ran", nil })
	require.NoError(t, err, "Submit")
	v, err := task.Await(bounded(t))
	require.NoError(t, err, "Await")
	assert.Equal(t, "ran", v, "value")
	assert.Zero(t, pool.SubmittedTasks(), "runs handed to the stopped pool")
}

// A task that awaits another lends its slot; the pool's only worker is
// busy with the waiting task, so the other one must not queue behind it.
func TestNestedAwaitOnAOneWorkerPoolDoesNotDeadlock(t *testing.T) {
	pool := newPool(t, 1)
	s := newScheduler(t, pool)
	assert.Equal(t, 1, s.Stats().Limit, "the cap New takes from the pool")
	outer, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		inner, err := scheduler.Submit(s, func(context.Context) (int, error) { return 41, nil })
		if err != nil {
			return 0, err
		}
		v, err := inner.Await(ctx)
		return v + 1, err
	})
	require.NoError(t, err, "Submit(outer)")
	v, err := outer.Await(bounded(t))
	require.NoError(t, err, "outer.Await")
	assert.Equal(t, 42, v, "outer's value")
}

func TestABlockingBoundedPoolIsFedWithoutBlockingTheScheduler(t *testing.T) {
	pool := newPool(t, 2, pond.WithQueueSize(1))
	s := newScheduler(t, pool, scheduler.WithLimit(2))
	var sum atomic.Int32
	var tasks []*lazytask.Task[struct{}]
	for i := range 10 {
		task, err := scheduler.Go(s, func(context.Context) error { sum.Add(int32(i)); return nil })
		require.NoError(t, err, "Go")
		tasks = append(tasks, task)
	}
	for _, task := range tasks {
		require.NoError(t, task.Wait(bounded(t)), "Wait")
	}
	assert.Equal(t, int32(45), sum.Load(), "sum")
	assert.NotZero(t, pool.SubmittedTasks(), "runs handed to the pool")
}

func TestPanicsAndForceRunsWorkAsWithoutThePool(t *testing.T) {
	pool := newPool(t, 4)
	s := newScheduler(t, pool, scheduler.WithLimit(1))
	bad, err := scheduler.Submit(s, func(context.Context) (int, error) { panic("boom") })
	require.NoError(t, err, "Submit(bad)")
	_, err = bad.Await(bounded(t))
	pe, ok := errors.AsType[*lazytask.PanicError](err)
	require.True(t, ok, "bad.Await() = %v; want a *PanicError", err)
	assert.Equal(t, "boom", pe.Value, "panic value")

	release := make(chan struct{})
	holder, err := scheduler.Submit(s, func(context.Context) (int, error) { <-release; return 0, nil })
	require.NoError(t, err, "Submit(holder)")
	urgent, err := scheduler.Submit(s, func(context.Context) (int, error) { return 7, nil })
	require.NoError(t, err, "Submit(urgent)")
	require.NoError(t, s.Force(urgent), "Force(urgent)")
	v, err := urgent.Await(bounded(t))
	require.NoError(t, err, "urgent.Await")
	assert.Equal(t, 7, v, "urgent's value")
	assert.Equal(t, uint64(1), s.Stats().ForceRuns, "Stats().ForceRuns")
	close(release)
	require.NoError(t, holder.Wait(bounded(t)), "holder.Wait")
}

func TestNewWithAnUnlimitedPoolIsUnlimited(t *testing.T) {
	s := newScheduler(t, newPool(t, 0))
	assert.True(t, s.Stats().Unlimited, "Stats().Unlimited")
	s2 := newScheduler(t, newPool(t, 0), scheduler.WithLimit(3))
	assert.Equal(t, 3, s2.Stats().Limit, "Stats().Limit with WithLimit(3)")
}
