package scheduler_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An OnCreate hook of NewTask hands the handle to another goroutine, which
// cancels it (as a hook that registers the task with a request tracker,
// say, whose request then ends). The cancel races NewTask's bindLazy: the
// task must end once and never stay counted Lazy.
func TestAHookSharedNewTaskCanceledDuringItsBindEndsOnceAndIsNotLeftLazy(t *testing.T) {
	var slot atomic.Pointer[lazytask.Task[struct{}]]
	var created, done atomic.Int64
	var stopped atomic.Bool
	var wg sync.WaitGroup
	stop := errors.New("tracker says stop")
	s := scSched(t, scheduler.WithLimit(2), scheduler.WithHooks(scheduler.Hooks{
		OnCreate: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			created.Add(1)
			slot.Store(h.(*lazytask.Task[struct{}]))
		},
		OnDone: func(context.Context, *scheduler.Scope, lazytask.Handle) { done.Add(1) },
	}))
	wg.Add(1)
	go func() {
		defer wg.Done()
		spin := 0
		for !stopped.Load() {
			h := slot.Swap(nil)
			if h == nil {
				runtime.Gosched()
				continue
			}
			spin = (spin + 7) % 97
			for i := 0; i < spin; i++ {
				_ = i * i
			}
			h.Cancel(stop)
		}
	}()
	fn := func(context.Context) (struct{}, error) { return struct{}{}, nil }
	const n = 20000
	hs := make([]*lazytask.Task[struct{}], 0, n)
	for range n {
		h := scheduler.NewTask(s, fn)
		hs = append(hs, h)
		for slot.Load() != nil { // the canceler has it
			runtime.Gosched()
		}
	}
	stopped.Store(true)
	wg.Wait()
	lazyLeft, lazyButEnded := 0, 0
	for _, h := range hs {
		if h.State() == lazytask.Lazy {
			lazyLeft++
			_ = h.Cancel(stop)
		}
	}
	st := s.Stats()
	for _, h := range hs {
		_, _ = h.Await(bounded(t))
	}
	st2 := s.Stats()
	lazyButEnded = st2.Lazy
	t.Logf("before: %+v", st)
	t.Logf("after all ended: %+v (still-Lazy handles canceled at the end: %d)", st2, lazyLeft)
	assert.Zero(t, lazyButEnded, "tasks that have ended still counted Lazy")
	require.Equal(t, st2.Created, st2.Succeeded+st2.Failed+st2.Canceled+st2.Rejected+uint64(st2.Queued+st2.Running+st2.Lazy))
	require.NoError(t, s.Shutdown(bounded(t)))
	assert.Equal(t, created.Load(), done.Load(), "OnCreate fired %d times, OnDone %d", created.Load(), done.Load())
	st3 := s.Stats()
	assert.Zero(t, st3.Lazy, "after Shutdown: %+v", st3)
}
