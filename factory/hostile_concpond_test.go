package factory_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Ports of conc's iter.Map/ForEach and ResultPool guarantees, and pond's
// result pools and groups, onto the factory combinators.

var errHo = errors.New("ho: failed")

// conc iter.Map: results in the order of the input, at most the limit at
// once, whatever order they end in; a panic is one element's error (here)
// and the others keep their values.
func TestHoMapKeepsInputOrderAndLimitWithPanics(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(8))
	in := make([]int, 100)
	for i := range in {
		in[i] = i
	}
	var cur, peak atomic.Int32
	out, err := factory.Map(bounded(t), s, in, 3, func(ctx context.Context, v int) (string, error) {
		n := cur.Add(1)
		defer cur.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		switch v % 10 {
		case 3:
			panic(fmt.Sprint("boom ", v))
		case 7:
			return "x", fmt.Errorf("v %d: %w", v, errHo)
		}
		return fmt.Sprint(v), nil
	})
	require.Len(t, out, len(in))
	require.ErrorIs(t, err, errHo)
	var pe *lazytask.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "boom 3", pe.Value, "the first panic joined is the first in input order")
	joined := err.(interface{ Unwrap() []error }).Unwrap()
	assert.Len(t, joined, 20, "one error per failed element")
	for i, v := range out {
		switch i % 10 {
		case 3, 7:
			assert.Equal(t, "", v, "out[%d] of a failed call is the zero value", i)
		default:
			assert.Equal(t, fmt.Sprint(i), v, "out[%d]", i)
		}
	}
	assert.LessOrEqual(t, peak.Load(), int32(3), "calls at once with Map limit 3")
}

// conc iter.Map of an empty slice: no call, no error, an empty result.
func TestHoMapAndGatherOfNothing(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	out, err := factory.Map(bounded(t), s, []int(nil), 4, func(ctx context.Context, v int) (int, error) {
		t.Error("called")
		return 0, nil
	})
	require.NoError(t, err)
	assert.Empty(t, out)
	vs, err := factory.Gather[int](bounded(t), s)
	require.NoError(t, err)
	assert.Empty(t, vs)
	seen := 0
	for range factory.AsCompleted[int](bounded(t), s) {
		seen++
	}
	assert.Equal(t, 0, seen)
	for range factory.Completed[int](bounded(t)) {
		seen++
	}
	assert.Equal(t, 0, seen)
}

// conc ResultContextPool.Wait: the results of the tasks in order, and the
// errors. Here Gather with a nil fn among good ones: the bad one fails with
// ErrNilFunc, the others run and keep their place.
func TestHoGatherAndRaceWithANilFunc(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	fns := []func(context.Context) (int, error){
		func(context.Context) (int, error) { return 1, nil },
		nil,
		func(context.Context) (int, error) { return 3, nil },
	}
	vs, err := factory.Gather(bounded(t), s, fns...)
	require.ErrorIs(t, err, lazytask.ErrNilFunc)
	assert.Equal(t, []int{1, 0, 3}, vs)
	v, err := factory.Race(bounded(t), s, nil, fns[2])
	require.NoError(t, err, "Race with one nil fn and a good one")
	assert.Equal(t, 3, v)
	_, err = factory.Race[int](bounded(t), s, nil, nil)
	require.ErrorIs(t, err, lazytask.ErrNilFunc, "Race of only nil fns")
	st := s.Stats()
	assert.Equal(t, 0, st.Queued+st.Running)
}

// pond's task group with first-error cancellation and conc's
// WithFirstError, through Race: the winner's value, the losers see
// ErrNotNeeded as their cause, and nothing they started outlives Race.
func TestHoRaceLosersSeeErrNotNeededAndHaveEnded(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(4))
	var causes sync.Map
	started := make(chan struct{}, 3)
	var ended atomic.Int32
	loser := func(i int) func(context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			started <- struct{}{}
			<-ctx.Done()
			causes.Store(i, context.Cause(ctx))
			ended.Add(1)
			return 0, ctx.Err()
		}
	}
	v, err := factory.Race(bounded(t), s, loser(0), loser(1), func(ctx context.Context) (int, error) {
		for range 2 {
			<-started
		}
		return 7, nil
	}, loser(3))
	require.NoError(t, err)
	assert.Equal(t, 7, v)
	assert.Equal(t, int32(3), ended.Load(), "losers ended before Race returned")
	for _, i := range []int{0, 1, 3} {
		c, ok := causes.Load(i)
		if !ok {
			continue // canceled before it ran
		}
		assert.ErrorIs(t, c.(error), factory.ErrNotNeeded, "loser %d's cause", i)
	}
	st := s.Stats()
	assert.Equal(t, 0, st.Running+st.Queued, "Race left tasks behind")
}

// Race when every task fails: every error joined in the order of fns, also
// when one of them panics.
func TestHoRaceAllFailJoinsInOrder(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(3))
	e0, e2 := errors.New("e0"), errors.New("e2")
	release := make(chan struct{})
	_, err := factory.Race(bounded(t), s,
		func(context.Context) (int, error) { <-release; return 0, e0 },
		func(context.Context) (int, error) { defer close(release); panic("p1") },
		func(context.Context) (int, error) { return 0, e2 },
	)
	require.Error(t, err)
	joined := err.(interface{ Unwrap() []error }).Unwrap()
	require.Len(t, joined, 3)
	assert.Equal(t, e0, joined[0])
	var pe *lazytask.PanicError
	assert.ErrorAs(t, joined[1], &pe)
	assert.Equal(t, e2, joined[2])
}

// AsCompleted: each index exactly once, in completion order; a second loop
// runs the functions again; breaking early cancels the rest with
// ErrNotNeeded and waits for them.
func TestHoAsCompletedOrderRerunAndBreak(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(4))
	steps := []chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}
	var runs atomic.Int32
	mk := func(i int) func(context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			runs.Add(1)
			select {
			case <-steps[i]:
				return i * 10, nil
			case <-ctx.Done():
				return -1, context.Cause(ctx)
			}
		}
	}
	seq := factory.AsCompleted(bounded(t), s, mk(0), mk(1), mk(2))
	var order []int
	close(steps[2])
	for i, r := range seq {
		require.NoError(t, r.Err)
		assert.Equal(t, i*10, r.Value)
		order = append(order, i)
		switch i {
		case 2:
			close(steps[0])
		case 0:
			close(steps[1])
		}
	}
	assert.Equal(t, []int{2, 0, 1}, order)
	assert.Equal(t, int32(3), runs.Load())
	// Second loop: runs again (every step closed now, so any order).
	order = order[:0]
	for i := range seq {
		order = append(order, i)
	}
	slices.Sort(order)
	assert.Equal(t, []int{0, 1, 2}, order)
	assert.Equal(t, int32(6), runs.Load())

	// Break early: the others are canceled with ErrNotNeeded and have ended.
	block := make(chan struct{})
	defer close(block)
	var hs sync.Map
	blocked := func(i int) func(context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			hs.Store(i, true)
			select {
			case <-block:
				return 0, nil
			case <-ctx.Done():
				return 0, context.Cause(ctx)
			}
		}
	}
	for i, r := range factory.AsCompleted(bounded(t), s, blocked(0), func(context.Context) (int, error) { return 5, nil }, blocked(2)) {
		assert.Equal(t, 1, i)
		assert.Equal(t, 5, r.Value)
		break
	}
	st := s.Stats()
	assert.Equal(t, 0, st.Running+st.Queued, "tasks outlived the loop that broke")
}

// Completed leaves the tasks alone: breaking cancels nothing, a handle given
// twice comes twice, nil ones are skipped.
func TestHoCompletedLeavesTasksAlone(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	g := newGate(t)
	slow, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { g.wait(); return 1, nil })
	require.NoError(t, err)
	fast, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { return 2, nil })
	require.NoError(t, err)
	_, _ = fast.Await(bg)
	var got []int
	for h := range factory.Completed(bounded(t), fast, nil, slow, fast) {
		v, _ := h.Result()
		got = append(got, v)
		if len(got) == 2 {
			break
		}
	}
	assert.Equal(t, []int{2, 2}, got)
	assert.Equal(t, lazytask.Running, slow.State(), "Completed canceled a task when its loop broke")
	g.open()
	_, err = slow.Await(bounded(t))
	require.NoError(t, err)
}

// A combinator called from inside a task at cap 1 (conc #88, pond #56):
// Map, Gather, Race and AsCompleted from inside a task on the task's own
// scheduler complete, and the counters add up.
func TestHoCombinatorsInsideATaskAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	outer, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		sum := 0
		out, err := factory.Map(ctx, s, []int{1, 2, 3, 4}, 2, func(ctx context.Context, v int) (int, error) {
			vs, err := factory.Gather(ctx, s,
				func(context.Context) (int, error) { return v, nil },
				func(context.Context) (int, error) { return v, nil })
			if err != nil {
				return 0, err
			}
			return vs[0] + vs[1], nil
		})
		if err != nil {
			return 0, err
		}
		for _, v := range out {
			sum += v
		}
		r, err := factory.Race(ctx, s,
			func(ctx context.Context) (int, error) { return 0, errHo },
			func(context.Context) (int, error) { return 100, nil })
		if err != nil {
			return 0, err
		}
		sum += r
		for _, res := range factory.AsCompleted(ctx, s,
			func(context.Context) (int, error) { return 1000, nil },
			func(context.Context) (int, error) { return 1000, nil }) {
			sum += res.Value
		}
		return sum, nil
	})
	require.NoError(t, err)
	v, err := outer.Await(bounded(t))
	require.NoError(t, err)
	assert.Equal(t, 20+100+2000, v)
	require.NoError(t, s.Wait(bounded(t)))
	st := s.Stats()
	assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected+uint64(st.Queued+st.Running+st.Lazy), "Stats identity: %+v", st)
	assert.Equal(t, 0, st.OverCap, "over the cap once idle")
	assert.Equal(t, 0, st.InUse)
}

// Zero values: factory.Goroutines{} runs tasks; a nil Factory to Submit is
// Goroutines; a typed nil scope is refused.
func TestHoFactoryZeroValues(t *testing.T) {
	var g factory.Goroutines
	vs, err := factory.Gather(bounded(t), g,
		func(context.Context) (int, error) { return 1, nil },
		func(context.Context) (int, error) { return 2, nil })
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, vs)
	h, err := factory.Submit(nil, func(context.Context) (int, error) { return 3, nil })
	require.NoError(t, err)
	v, err := h.Await(bounded(t))
	require.NoError(t, err)
	assert.Equal(t, 3, v)
	var nilScope *scheduler.Scope
	_, err = factory.Submit(nilScope, func(context.Context) (int, error) { return 3, nil })
	require.ErrorIs(t, err, scheduler.ErrNilScope)
}
