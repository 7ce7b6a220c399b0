package lazytask_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

// A task made with a carried context that is already canceled is Canceled
// the moment New returns, with the context's cause, every time: not Lazy
// for a while until the watch's goroutine gets round to it, so that what
// the maker sees (its State, Err, a Start's answer) does not depend on a
// race, and its function never runs.
func TestHostileHPCarriedAlreadyCanceledEndsAtNew(t *testing.T) {
	cause := errors.New("request gone")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	for i := range 200 {
		ran := false
		h := lazytask.New(func(context.Context) (int, error) { ran = true; return 1, nil }, lazytask.WithContext(ctx))
		require.Equal(t, lazytask.Canceled, h.State(), "try %d: a task made with a canceled context", i)
		require.ErrorIs(t, h.Err(), cause, "try %d", i)
		require.ErrorIs(t, h.Start(), lazytask.ErrStarted, "try %d", i)
		<-h.Done()
		require.False(t, ran, "try %d", i)
	}
}

// Start from several goroutines, Cancel and the carried context's cancel,
// all at one instant, on a task with no scheduler: the function runs at
// most once, one Start at most is accepted, the task ends once, each done
// callback runs once, and a task whose function never ran is Canceled.
func TestHostileHPStartCancelAndCarriedCancelAtOnce(t *testing.T) {
	for i := range 300 {
		ctx, cancel := context.WithCancelCause(context.Background())
		t.Cleanup(func() { cancel(nil) })
		var ran atomic.Int32
		cbs := make(chan struct{}, 4)
		h := lazytask.New(func(ctx context.Context) (int, error) {
			ran.Add(1)
			<-ctx.Done()
			return 0, ctx.Err()
		}, lazytask.WithContext(ctx))
		h.OnDone(func(int, error) { cbs <- struct{}{} })
		var accepted atomic.Int32
		var wg sync.WaitGroup
		startGate := make(chan struct{})
		for j := range 4 {
			wg.Go(func() {
				<-startGate
				switch j {
				case 0:
					cancel(errors.New("carried"))
				case 1:
					h.Cancel(errors.New("direct"))
				default:
					if h.Start() == nil {
						accepted.Add(1)
					}
				}
			})
		}
		close(startGate)
		wg.Wait()
		select {
		case <-h.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("try %d: the task never ended (%v)", i, h.State())
		}
		require.LessOrEqual(t, accepted.Load(), int32(1), "try %d", i)
		require.LessOrEqual(t, ran.Load(), accepted.Load(), "try %d: ran without an accepted Start", i)
		require.Equal(t, lazytask.Canceled, h.State(), "try %d: err %v, ran %d", i, h.Err(), ran.Load())
		// One registered after the end runs too (after the first, which
		// may still be on its way: Done closes before the callbacks run).
		h.OnDone(func(int, error) { cbs <- struct{}{} })
		for k := range 2 {
			select {
			case <-cbs:
			case <-time.After(10 * time.Second):
				t.Fatalf("try %d: done callback %d never ran", i, k)
			}
		}
		require.Empty(t, cbs, "try %d: a done callback ran twice", i)
	}
}
