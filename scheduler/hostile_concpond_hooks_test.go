package scheduler_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Hooks that cancel or force-run the tasks they see, and that panic, over
// every way in (Submit, SubmitWait, NewTask then Enqueue or Start,
// lazytask.New then Enqueue or Force) at a full-ish bounded queue: each
// task is counted once, OnDone fires once per task the scheduler counted,
// and the counters add up once idle.
func TestPeersHooksThatCancelForceAndPanicKeepTheCountersExact(t *testing.T) {
	var seq, dones atomic.Int64
	onDoneIDs := make(chan lazytask.Handle, 10000)
	s := startScheduler(t, scheduler.WithLimit(2), scheduler.WithQueueLimit(6), scheduler.WithHooks(scheduler.Hooks{
		OnCreate: func(ctx context.Context, sc *scheduler.Scope, h lazytask.Handle) {
			switch seq.Add(1) % 7 {
			case 1:
				h.Cancel(nil)
			case 4:
				panic("OnCreate boom")
			}
		},
		OnQueue: func(ctx context.Context, sc *scheduler.Scope, h lazytask.Handle) {
			switch seq.Add(1) % 5 {
			case 2:
				_ = sc.Force(h)
			case 3:
				h.Cancel(nil)
			}
		},
		OnStart: func(ctx context.Context, sc *scheduler.Scope, h lazytask.Handle) context.Context {
			if seq.Add(1)%6 == 0 {
				panic("OnStart boom")
			}
			return nil
		},
		OnDone: func(ctx context.Context, sc *scheduler.Scope, h lazytask.Handle) {
			dones.Add(1)
			onDoneIDs <- h
			if seq.Add(1)%4 == 0 {
				panic("OnDone boom")
			}
		},
	}))
	release := make(chan struct{})
	body := func(ctx context.Context) (int, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return 1, nil
	}
	var all []*lazytask.Task[int]
	for i := range 120 {
		var h *lazytask.Task[int]
		switch i % 6 {
		case 0:
			h, _ = scheduler.Submit(s, body)
		case 1:
			ctx, cancel := context.WithCancel(bg)
			cancel() // SubmitWait with an ended context refuses at once
			if i%12 == 1 {
				ctx = bg
				h, _ = scheduler.Submit(s, body) // SubmitWait(bg) could wait forever on a full queue
			} else {
				h, _ = scheduler.SubmitWait(ctx, s, body)
			}
		case 2:
			h = scheduler.NewTask(s, body)
			_ = s.Enqueue(h)
		case 3:
			h = scheduler.NewTask(s, body)
			_ = h.Start()
		case 4:
			h = lazytask.New(body)
			_ = s.Enqueue(h)
		case 5:
			h = lazytask.New(body)
			_ = s.Force(h)
		}
		all = append(all, h)
		if i%20 == 19 {
			st := s.Stats()
			statsAddUp(t, st, "mid-way")
		}
	}
	close(release)
	require.NoError(t, s.Wait(bg))
	st := s.Stats()
	statsAddUp(t, st, "idle")
	assert.Equal(t, 0, st.InUse+st.OverCap+st.Queued+st.Running)
	require.NoError(t, s.Shutdown(bg))
	st = s.Stats()
	statsAddUp(t, st, "after shutdown")
	assert.Equal(t, 0, st.Lazy)
	// Every counted task that the scheduler ended fired OnDone once; a
	// handle may not fire it twice.
	close(onDoneIDs)
	seen := map[lazytask.Handle]int{}
	for h := range onDoneIDs {
		seen[h]++
	}
	for h, n := range seen {
		assert.Equal(t, 1, n, "OnDone of %v fired %d times", h.Info().Name, n)
	}
	counted := st.Succeeded + st.Failed + st.Canceled + st.Rejected
	assert.Equal(t, st.Created, counted)
	assert.Equal(t, int64(len(seen)), dones.Load())
	// Lazy tasks from lazytask.New that no scheduler took stay Lazy; the
	// rest have ended.
	for i, h := range all {
		if h.State() == lazytask.Lazy {
			assert.Contains(t, []int{4, 5}, i%6, "task %d (way %d) left Lazy", i, i%6)
		}
	}
}
