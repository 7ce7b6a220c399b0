package factory_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/scheduler"
)

// ordered returns n functions that each wait for their turn: the test
// decides the order in which they end.
func ordered(n int) ([]func(context.Context) (int, error), []chan struct{}) {
	turns := make([]chan struct{}, n)
	fns := make([]func(context.Context) (int, error), n)
	for i := range n {
		turns[i] = make(chan struct{})
		fns[i] = func(ctx context.Context) (int, error) {
			select {
			case <-turns[i]:
				return i * 10, nil
			case <-ctx.Done():
				return 0, context.Cause(ctx)
			}
		}
	}
	return fns, turns
}

func TestAsCompletedYieldsInCompletionOrder(t *testing.T) {
	fns, turns := ordered(3)
	order := []int{2, 0, 1}
	close(turns[order[0]])
	var got []int
	k := 1
	for i, r := range factory.AsCompleted(bounded(t), factory.Goroutines{}, fns...) {
		got = append(got, i)
		assert.NoError(t, r.Err, "result %d", i)
		assert.Equal(t, i*10, r.Value, "value %d", i)
		if k < len(order) {
			close(turns[order[k]]) // the next one may end only now
			k++
		}
	}
	assert.Equal(t, order, got, "indexes in the order yielded")
}

func TestAsCompletedBreakCancelsAndAwaitsTheRest(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	// 0 and 1 run, 2 and 3 wait in the queue; when 1 ends, 2 takes its
	// slot before 1's result is yielded, and 3 is still queued at the
	// break.
	fns, turns := ordered(4)
	var ran [4]atomic.Bool
	var ended atomic.Int32
	for i, fn := range fns {
		fns[i] = func(ctx context.Context) (int, error) {
			ran[i].Store(true)
			defer ended.Add(1)
			return fn(ctx)
		}
	}
	close(turns[1])
	for i := range factory.AsCompleted(bounded(t), s, fns...) {
		assert.Equal(t, 1, i, "the first index yielded")
		break
	}
	st := s.Stats()
	assert.Equal(t, 0, st.Running+st.Queued, "tasks running or queued after the loop")
	assert.Equal(t, int32(3), ended.Load(), "functions that ran had ended after the loop")
	assert.False(t, ran[3].Load(), "the task queued at the break ran")
	assert.Equal(t, uint64(3), st.Canceled, "tasks canceled (two ran and returned the cause, one never ran)")
}

func TestAsCompletedWhenCtxEndsYieldsTheRestWithTheCause(t *testing.T) {
	ctx, cancel := context.WithCancelCause(bounded(t))
	defer cancel(nil)
	stop := errors.New("no more")
	fns, turns := ordered(3)
	close(turns[0])
	var errs []error
	for i, r := range factory.AsCompleted(ctx, factory.Goroutines{}, fns...) {
		if i == 0 {
			cancel(stop)
			continue
		}
		errs = append(errs, r.Err)
	}
	assert.Len(t, errs, 2, "results after the cancel")
	for _, err := range errs {
		assert.ErrorIs(t, err, stop, "a canceled task's error")
	}
}

func TestAsCompletedWithADoneContextYieldsTheCauseForEveryIndex(t *testing.T) {
	ctx, cancel := context.WithCancel(bg)
	cancel()
	fns, _ := ordered(2)
	n := 0
	for i, r := range factory.AsCompleted(ctx, factory.Goroutines{}, fns...) {
		assert.Equal(t, n, i, "index")
		assert.ErrorIs(t, r.Err, context.Canceled, "result %d", i)
		n++
	}
	assert.Equal(t, 2, n, "results yielded")
}
