package factory_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Scopes and schedulers are factories as they are; Of converts a Spawner.
var (
	_ factory.Factory = (*scheduler.Scope)(nil)
	_ factory.Factory = (*scheduler.Scheduler)(nil)
	_ factory.Factory = factory.Goroutines{}
)

func TestSubmitToAScopeRunsUnderItsCap(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	f := factory.Of(s)
	g := newGate(t)
	first, err := factory.Submit(f, func(context.Context) (int, error) { g.wait(); return 1, nil })
	require.NoError(t, err, "Submit(first)")
	<-g.started
	second, err := factory.Submit(f, func(context.Context) (int, error) { return 2, nil }, lazytask.WithName("second"))
	require.NoError(t, err, "Submit(second)")
	assert.Equal(t, lazytask.Queued, second.State(), "second.State() while the cap is taken")
	assert.Equal(t, "second", second.Name(), "second.Name()")

	g.open()
	v, err := second.Await(bounded(t))
	require.NoError(t, err, "second.Await")
	assert.Equal(t, 2, v, "second's value")
	v, err = first.Await(bounded(t))
	assert.Equal(t, 1, v, "first's value")
	assert.NoError(t, err, "first.Await")
}

func TestFactoryTasksAreSeenByTheScopeHooks(t *testing.T) {
	var queued, started, done atomic.Int32
	s := newScheduler(t)
	sc, err := s.Root().NewScope(scheduler.WithHooks(scheduler.Hooks{
		OnQueue: func(context.Context, *scheduler.Scope, lazytask.Handle) { queued.Add(1) },
		OnStart: func(context.Context, *scheduler.Scope, lazytask.Handle) context.Context { started.Add(1); return nil },
		OnDone:  func(context.Context, *scheduler.Scope, lazytask.Handle) { done.Add(1) },
	}))
	require.NoError(t, err, "NewScope")
	task, err := factory.Go(sc, func(context.Context) error { return nil })
	require.NoError(t, err, "Go")
	require.NoError(t, task.Wait(bounded(t)), "Wait")
	require.NoError(t, s.Shutdown(bounded(t)), "Shutdown: waits for the OnDone hook too")
	assert.Equal(t, [3]int32{1, 1, 1}, [3]int32{queued.Load(), started.Load(), done.Load()}, "OnQueue, OnStart, OnDone calls")
}

func TestSubmitRefusedByAClosedScopeEndsCanceledAndNeverRuns(t *testing.T) {
	s := newScheduler(t)
	sc, err := s.Root().NewScope()
	require.NoError(t, err, "NewScope")
	require.NoError(t, sc.Shutdown(bg), "Shutdown")
	var ran atomic.Bool
	task, err := factory.Submit(sc, func(context.Context) (int, error) { ran.Store(true); return 0, nil })
	assert.ErrorIs(t, err, scheduler.ErrClosed, "Submit to a closed scope")
	assert.Equal(t, lazytask.Canceled, task.State(), "task.State()")
	assert.ErrorIs(t, task.Err(), scheduler.ErrClosed, "task.Err()")
	assert.False(t, ran.Load(), "the function ran")
}

func TestSubmitBadInputReturnsAFailedTask(t *testing.T) {
	task, err := factory.Submit[int](factory.Goroutines{}, nil)
	assert.ErrorIs(t, err, lazytask.ErrNilFunc, "Submit(nil)")
	assert.Equal(t, lazytask.Failed, task.State(), "task.State()")

	task, err = factory.Submit(factory.Goroutines{}, func(context.Context) (int, error) { return 0, nil }, lazytask.WithWeight(0))
	assert.ErrorIs(t, err, lazytask.ErrInvalidOption, "Submit(weight 0)")
	assert.Equal(t, lazytask.Failed, task.State(), "task.State()")
}

func TestGoroutinesStartsEveryTaskAtOnce(t *testing.T) {
	g1, g2 := newGate(t), newGate(t)
	a, err := factory.Go(factory.Goroutines{}, func(context.Context) error { g1.wait(); return nil })
	require.NoError(t, err, "Go(a)")
	b, err := factory.Go(nil, func(context.Context) error { g2.wait(); return errors.New("b failed") })
	require.NoError(t, err, "Go(b) on a nil Factory")
	awaitClosed(t, bounded(t), g1.started, "a started")
	awaitClosed(t, bounded(t), g2.started, "b started, with a still running")
	g1.open()
	g2.open()
	assert.NoError(t, a.Wait(bounded(t)), "a.Wait")
	assert.EqualError(t, b.Wait(bounded(t)), "b failed", "b.Wait")
	assert.ErrorIs(t, factory.Goroutines{}.Enqueue(a), lazytask.ErrStarted, "Enqueue(an ended task)")
}

func TestOfNilIsNil(t *testing.T) {
	assert.Nil(t, factory.Of(nil), "Of(nil)")
	var s *scheduler.Scheduler
	assert.Nil(t, factory.Of(s), "Of((*Scheduler)(nil))")
}
