package factory_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func TestWithOptionsGivesSubmitsItsOptionsBeforeTheCallsOwn(t *testing.T) {
	s := newScheduler(t)
	f := factory.WithOptions(s, lazytask.WithName("batch"), lazytask.WithPriority(3), lazytask.WithLabel("job", "x"))
	h, err := factory.Submit(f, func(context.Context) (int, error) { return 1, nil }, lazytask.WithPriority(7))
	require.NoError(t, err)
	o := h.Options()
	assert.Equal(t, "batch", o.Name, "name from WithOptions")
	assert.Equal(t, 7, o.Priority, "the call's priority wins over the factory's")
	assert.Equal(t, map[string]string{"job": "x"}, o.Labels, "labels")
	v, err := h.Await(bounded(t))
	require.NoError(t, err)
	assert.Equal(t, 1, v)

	g := factory.WithOptions(f, lazytask.WithName("inner"))
	h2, err := factory.Go(g, func(context.Context) error { return nil })
	require.NoError(t, err)
	assert.Equal(t, "inner", h2.Name(), "WithOptions of WithOptions adds, later wins")
	assert.Equal(t, 3, h2.Options().Priority, "the outer factory's priority is kept")
	_, err = h2.Await(bounded(t))
	require.NoError(t, err)
}

func TestWithOptionsReachesEveryCombinator(t *testing.T) {
	var mu sync.Mutex
	names := map[string]int{}
	s := newScheduler(t, scheduler.WithHooks(scheduler.Hooks{
		OnQueue: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			mu.Lock()
			names[h.Options().Name]++
			mu.Unlock()
		},
	}))
	ctx := bounded(t)
	one := func(context.Context) (int, error) { return 1, nil }
	_, err := factory.Gather(ctx, factory.WithOptions(s, lazytask.WithName("gather")), one, one)
	require.NoError(t, err)
	_, err = factory.Race(ctx, factory.WithOptions(s, lazytask.WithName("race")), one)
	require.NoError(t, err)
	for range factory.AsCompleted(ctx, factory.WithOptions(s, lazytask.WithName("ascompleted")), one, one, one) {
	}
	_, err = factory.Map(ctx, factory.WithOptions(s, lazytask.WithName("map")), []int{1, 2, 3, 4}, 2,
		func(_ context.Context, v int) (int, error) { return v, nil })
	require.NoError(t, err)
	require.NoError(t, s.Wait(ctx))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]int{"gather": 2, "race": 1, "ascompleted": 3, "map": 4}, names, "tasks queued, by name")
}

func TestWithOptionsEnqueueForwardsAndNilMeansGoroutines(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	f := factory.WithOptions(s, lazytask.WithName("ignored"))
	t1 := lazytask.New(func(context.Context) (int, error) { return 5, nil }, lazytask.WithName("own"))
	require.NoError(t, f.Enqueue(t1), "Enqueue through WithOptions")
	v, err := t1.Await(bounded(t))
	require.NoError(t, err)
	assert.Equal(t, 5, v)
	assert.Equal(t, "own", t1.Name(), "a task made elsewhere keeps its options")
	assert.Equal(t, uint64(1), s.Stats().Submitted, "the task went to the scheduler")

	g := factory.WithOptions(nil, lazytask.WithName("free"))
	h, err := factory.Submit(g, func(context.Context) (int, error) { return 6, nil })
	require.NoError(t, err)
	assert.Equal(t, "free", h.Name())
	v, err = h.Await(bounded(t))
	require.NoError(t, err)
	assert.Equal(t, 6, v)
}
