package scheduler_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// A shared cap of 4, 1 slot held outside the scheduler. The head task
// needs 4 and its request waits in the limit; a task of weight 1 queues
// behind it. The heavy task is canceled (or force-run): the light one fits
// the 3 free slots and must start, as under a local cap. The scope kept
// the request for 4 it had made for the task gone (it still had a task
// queued), so the light task, and every request behind it in the shared
// limit's line, waited until the outside holder let go.
func TestSharedRequestForATaskThatLeftIsWithdrawnForALighterHead(t *testing.T) {
	for _, leave := range []struct {
		name string
		do   func(h *lazytask.Task[int])
	}{
		{"canceled", func(h *lazytask.Task[int]) { h.Cancel(errors.New("not needed")) }},
		{"force-run", func(h *lazytask.Task[int]) { _ = h.Start() }},
	} {
		t.Run(leave.name, func(t *testing.T) {
			shared, err := limiter.NewLocal(4)
			require.NoError(t, err)
			outside := make(chan limiter.Permit, 1)
			shared.Acquire(limiter.Request{Weight: 1, Granted: func(p limiter.Permit, err error) { outside <- p }})
			p := <-outside
			defer p.Release()

			s, err := scheduler.New(scheduler.WithLimit(8), scheduler.WithSharedLimit(shared))
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			defer func() { assert.NoError(t, s.Shutdown(ctx)) }()

			heavy, err := scheduler.Submit(s, func(context.Context) (int, error) { return 4, nil }, lazytask.WithWeight(4))
			require.NoError(t, err)
			require.Equal(t, 1, shared.Waiting(), "the request for 4 waits")
			light, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
			require.NoError(t, err)

			leave.do(heavy)
			_, _ = heavy.Await(ctx)
			select {
			case <-light.Done():
			case <-ctx.Done():
				t.Fatalf("the light task did not run with 3 of 4 shared slots free (%d waiting in the limit, %d in use)", shared.Waiting(), shared.InUse())
			}
			v, err := light.Result()
			require.NoError(t, err)
			assert.Equal(t, 1, v)
		})
	}
}

// The request kept for a task that left is reused by the next head of its
// weight: that head takes the permit, and the limit sees no second ask.
func TestSharedRequestForATaskThatLeftIsKeptForAHeadOfItsWeight(t *testing.T) {
	base, err := limiter.NewLocal(2)
	require.NoError(t, err)
	shared := watch(base)
	outside := make(chan limiter.Permit, 1)
	base.Acquire(limiter.Request{Weight: 2, Granted: func(p limiter.Permit, err error) { outside <- p }})
	p := <-outside

	s, err := scheduler.New(scheduler.WithLimit(8), scheduler.WithSharedLimit(shared))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	<-shared.acquired
	second, err := scheduler.Submit(s, func(context.Context) (int, error) { return 2, nil })
	require.NoError(t, err)
	first.Cancel(errors.New("not needed"))
	_, _ = first.Await(ctx)
	p.Release()
	v, err := second.Await(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, v)
	require.NoError(t, s.Shutdown(ctx))
	assert.Empty(t, shared.canceled, "the request was withdrawn though the next head had its weight")
	assert.Len(t, shared.acquired, 0, "a second request was made though the first fitted the next head")
}

// The same with the heavy task still queued: a task of higher priority
// and another weight comes to the head. The scope asks for its head (the
// doc), so the request for the heavy one gives way: the urgent light task
// runs in the free slots, as it would under a local cap, instead of
// waiting until 4 shared slots are free for the task behind it. The heavy
// one asks again once it heads the queue, and runs when there is room.
func TestSharedRequestGivesWayToAHigherPriorityHeadOfAnotherWeight(t *testing.T) {
	shared, err := limiter.NewLocal(4)
	require.NoError(t, err)
	outside := make(chan limiter.Permit, 1)
	shared.Acquire(limiter.Request{Weight: 1, Granted: func(p limiter.Permit, err error) { outside <- p }})
	p := <-outside

	s, err := scheduler.New(scheduler.WithLimit(8), scheduler.WithSharedLimit(shared))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	heavy, err := scheduler.Submit(s, func(context.Context) (int, error) { return 4, nil }, lazytask.WithWeight(4))
	require.NoError(t, err)
	require.Equal(t, 1, shared.Waiting(), "the request for 4 waits")
	urgent, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil }, lazytask.WithPriority(10))
	require.NoError(t, err)
	select {
	case <-urgent.Done():
	case <-ctx.Done():
		t.Fatalf("the urgent task did not run with 3 of 4 shared slots free (%d waiting in the limit, %d in use)", shared.Waiting(), shared.InUse())
	}
	p.Release()
	v, err := heavy.Await(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, v)
	require.NoError(t, s.Shutdown(ctx))
}
