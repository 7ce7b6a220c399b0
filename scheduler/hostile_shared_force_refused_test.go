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

// An OnQueue hook hands the handle to a goroutine that force-runs it in
// the root scope, while Submit's own handoff to a canceled child scope is
// refused. Either the force wins (Submit returns nil, the task runs once)
// or the refusal does (Submit's error, the task Rejected and never run);
// never both, and Created counts each task once.
func TestAForceFromAHooksGoroutineDuringARefusedSubmitEitherWinsOrLoses(t *testing.T) {
	var slot atomic.Pointer[lazytask.Task[int]]
	s := scSched(t, scheduler.WithLimit(4), scheduler.WithHooks(scheduler.Hooks{
		OnQueue: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			slot.Store(h.(*lazytask.Task[int]))
		},
	}))
	child := scChild(t, s.Root())
	child.Cancel(errors.New("gone"))
	var stopped atomic.Bool
	var wg sync.WaitGroup
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
			spin = (spin + 13) % 151
			for i := 0; i < spin; i++ {
				_ = i * i
			}
			_ = s.Force(h)
		}
	}()
	var ran atomic.Int64
	fn := func(context.Context) (int, error) { ran.Add(1); return 1, nil }
	const n = 20000
	type res struct {
		h   *lazytask.Task[int]
		err error
	}
	rs := make([]res, 0, n)
	for range n {
		h, err := scheduler.Submit(child, fn)
		rs = append(rs, res{h, err})
		for slot.Load() != nil {
			runtime.Gosched()
		}
	}
	stopped.Store(true)
	wg.Wait()
	both := 0
	for _, r := range rs {
		_, _ = r.h.Await(bounded(t))
		if r.err != nil && r.h.State() == lazytask.Succeeded {
			both++
		}
	}
	require.NoError(t, s.Shutdown(bounded(t)))
	st := s.Stats()
	t.Logf("stats %+v, ran %d", st, ran.Load())
	assert.Zero(t, both, "tasks Submit refused (error, Rejected) that ran all the same")
	assert.Equal(t, uint64(n), st.Created, "Created counts some tasks twice")
}
