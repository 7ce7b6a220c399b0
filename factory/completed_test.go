package factory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func TestCompletedYieldsHandlesInTheOrderTheyEnd(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(4))
	release := []chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}
	var hs []*lazytask.Task[int]
	for i := range release {
		h, err := scheduler.Submit(s, func(context.Context) (int, error) { <-release[i]; return i, nil },
			lazytask.WithName([]string{"a", "b", "c"}[i]))
		require.NoError(t, err)
		hs = append(hs, h)
	}
	done, err := scheduler.Submit(s, func(context.Context) (int, error) { return 9, nil })
	require.NoError(t, err)
	_, err = done.Await(bounded(t))
	require.NoError(t, err)

	var names []string
	for h := range factory.Completed(bounded(t), append(hs, nil, done)...) {
		names = append(names, h.Name())
		require.True(t, h.State().Terminal(), "a yielded task has ended")
		switch h {
		case done:
			close(release[1])
		case hs[1]:
			close(release[2])
		case hs[2]:
			close(release[0])
		}
	}
	assert.Equal(t, []string{"", "b", "c", "a"}, names, "order of ending (the one already done first; nil skipped)")
}

func TestCompletedLeavesTasksAloneWhenTheLoopBreaksOrCtxEnds(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	release := make(chan struct{})
	slow, err := scheduler.Submit(s, func(context.Context) (int, error) { <-release; return 1, nil })
	require.NoError(t, err)
	fast, err := scheduler.Submit(s, func(context.Context) (int, error) { return 2, nil })
	require.NoError(t, err)
	for h := range factory.Completed(bounded(t), slow, fast) {
		assert.Same(t, fast, h, "first to end")
		break
	}
	assert.Equal(t, lazytask.Running, slow.State(), "a break cancels nothing")

	ctx, cancel := context.WithCancelCause(bounded(t))
	boom := errors.New("stop waiting")
	cancel(boom)
	n := 0
	for range factory.Completed(ctx, slow) {
		n++
	}
	assert.Zero(t, n, "nothing yielded once ctx has ended and no task is done")
	assert.Equal(t, lazytask.Running, slow.State(), "ctx's end cancels nothing")
	close(release)
	v, err := slow.Await(bounded(t))
	require.NoError(t, err)
	assert.Equal(t, 1, v)
}
