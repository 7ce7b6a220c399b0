package scheduler_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
	"github.com/stretchr/testify/require"
)

// An OnQueue hook hands each handle to another goroutine, which promotes
// (or force-runs) it at once, while the cap is full so that Submit takes
// the inbox. The Promote or Force can find the task Queued but still in
// the inbox (not linked): lockFor let it through while the task was still
// in transit (toQueued reads Lazy), and the submitter's InboxPushed made
// it Queued before Promote/force read the state again.
func actOnHandlesDuringTheirInboxPush(t *testing.T, act func(s *scheduler.Scheduler, h lazytask.Handle)) {
	var slot atomic.Pointer[lazytask.Task[int]]
	s := scSched(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnQueue: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			if ht, ok := h.(*lazytask.Task[int]); ok {
				slot.Store(ht)
			}
		},
	}))
	_, gate := scHold(t, s) // the cap is full: submits take the inbox
	slot.Store(nil)
	var stopped atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stopped.Load() {
			if h := slot.Swap(nil); h != nil {
				act(s, h)
			} else {
				runtime.Gosched()
			}
		}
	}()
	fn := func(context.Context) (int, error) { return 1, nil }
	hs := make([]*lazytask.Task[int], 0, 20000)
	for range 20000 {
		h, err := scheduler.Submit(s, fn)
		require.NoError(t, err)
		hs = append(hs, h)
	}
	stopped.Store(true)
	wg.Wait()
	gate.open()
	for _, h := range hs {
		_, err := h.Await(bounded(t))
		require.NoError(t, err)
	}
	require.NoError(t, s.Shutdown(bounded(t)))
}

func TestAPromoteOfAHookSharedHandleDuringItsInboxPushWaitsForThePush(t *testing.T) {
	actOnHandlesDuringTheirInboxPush(t, func(s *scheduler.Scheduler, h lazytask.Handle) { _ = s.Promote(h) })
}

func TestAForceOfAHookSharedHandleDuringItsInboxPushWaitsForThePush(t *testing.T) {
	actOnHandlesDuringTheirInboxPush(t, func(s *scheduler.Scheduler, h lazytask.Handle) { _ = s.Force(h) })
}
