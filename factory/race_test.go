package factory_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/scheduler"
)

func TestRaceFirstSuccessWinsAndTheLosersAreCanceledAndAwaited(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(4))
	slow := newGate(t)
	var loserCause atomic.Value
	var loserEnded atomic.Bool
	v, err := factory.Race(bounded(t), s,
		func(context.Context) (string, error) { return "", errors.New("fast failure") },
		func(ctx context.Context) (string, error) {
			<-slow.started // the loser is running before the winner returns
			return "winner", nil
		},
		func(ctx context.Context) (string, error) {
			defer loserEnded.Store(true)
			err := slow.waitCtx(ctx)
			loserCause.Store(err)
			return "loser", err
		},
	)
	require.NoError(t, err, "Race")
	assert.Equal(t, "winner", v, "Race's value")
	assert.True(t, loserEnded.Load(), "the loser had ended when Race returned")
	assert.ErrorIs(t, loserCause.Load().(error), factory.ErrNotNeeded, "the loser's cause")
}

func TestRaceWhenAllFailJoinsEveryError(t *testing.T) {
	e1, e2, e3 := errors.New("one"), errors.New("two"), errors.New("three")
	_, err := factory.Race(bounded(t), factory.Goroutines{},
		func(context.Context) (int, error) { return 0, e1 },
		func(context.Context) (int, error) { return 0, e2 },
		func(context.Context) (int, error) { return 0, e3 },
	)
	for _, e := range []error{e1, e2, e3} {
		assert.ErrorIs(t, err, e, "Race's error")
	}
	assert.Equal(t, "one\ntwo\nthree", err.Error(), "Race's error keeps the order of fns")
}

func TestRaceWhenCtxEndsCancelsAndAwaitsEveryTask(t *testing.T) {
	ctx, cancel := context.WithCancelCause(bounded(t))
	stop := errors.New("caller gave up")
	g1, g2 := newGate(t), newGate(t)
	var ended atomic.Int32
	body := func(g *gate) func(context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			defer ended.Add(1)
			return 0, g.waitCtx(ctx)
		}
	}
	go func() {
		<-g1.started
		<-g2.started
		cancel(stop)
	}()
	_, err := factory.Race(ctx, factory.Goroutines{}, body(g1), body(g2))
	assert.ErrorIs(t, err, stop, "Race's error")
	assert.Equal(t, int32(2), ended.Load(), "tasks ended when Race returned")
}

func TestRaceWithNoFuncOrADoneContextStartsNothing(t *testing.T) {
	_, err := factory.Race[int](bg, factory.Goroutines{})
	assert.ErrorIs(t, err, factory.ErrNoFuncs, "Race()")

	ctx, cancel := context.WithCancelCause(bg)
	cancel(errors.New("over"))
	var ran atomic.Bool
	_, err = factory.Race(ctx, factory.Goroutines{}, func(context.Context) (int, error) { ran.Store(true); return 1, nil })
	assert.EqualError(t, err, "over", "Race(done ctx)")
	assert.False(t, ran.Load(), "a function ran")
}

// A task that races its own scheduler's tasks lends its slot while it
// waits: on a cap of 1 it would deadlock otherwise.
func TestRaceInsideATaskLendsItsSlot(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	outer, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		return factory.Race(ctx, s,
			func(context.Context) (int, error) { return 0, errors.New("no") },
			func(context.Context) (int, error) { return 7, nil },
		)
	})
	require.NoError(t, err, "Submit(outer)")
	v, err := outer.Await(bounded(t))
	require.NoError(t, err, "outer.Await")
	assert.Equal(t, 7, v, "outer's value")
}
