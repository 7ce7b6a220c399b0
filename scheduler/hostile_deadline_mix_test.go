package scheduler_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// queued deadlines on a mock clock, fired while tasks are admitted,
// force-run, promoted, canceled, their scopes canceled, resized, shut down;
// some tasks under a shared limit. Every task ends once, its callback and
// done hook run once, Stats add up, no permit is left.
func TestQueuedDeadlinesOnAMockClockInAMessyMix(t *testing.T) {
	for round := range 20 {
		deadlineMixRound(t, round, true)
		deadlineMixRound(t, round, false)
	}
}

func deadlineMixRound(t *testing.T, round int, mocked bool) {
	rng := rand.New(rand.NewPCG(uint64(round), 99))
	var mu sync.Mutex
	doneHooks := map[lazytask.Handle]int{}
	hooks := scheduler.Hooks{OnDone: func(ctx context.Context, sc *scheduler.Scope, h lazytask.Handle) {
		mu.Lock()
		doneHooks[h]++
		mu.Unlock()
	}}
	mock := clock.NewMock()
	mock.Set(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	now := time.Now
	opts := []scheduler.SchedulerOption{scheduler.WithLimit(2), scheduler.WithHooks(hooks)}
	if mocked {
		opts = append(opts, scheduler.WithClock(scheduler.ClockOf(mock)))
		now = mock.Now
	}
	s, err := scheduler.New(append([]scheduler.SchedulerOption{scheduler.WithLogger(quietLogger)}, opts...)...)
	require.NoError(t, err)
	lim, err := limiter.NewLocal(1)
	require.NoError(t, err)
	var scopes []*scheduler.Scope
	scopes = append(scopes, s.Root())
	ff, err := s.Root().NewScope(scheduler.FailFast(), scheduler.WithLimit(1))
	require.NoError(t, err)
	sup, err := s.Root().NewScope(scheduler.WithLimit(2))
	require.NoError(t, err)
	sh, err := s.Root().NewScope(scheduler.WithSharedLimit(lim))
	require.NoError(t, err)
	shc, err := sh.NewScope(scheduler.WithLimit(1))
	require.NoError(t, err)
	scopes = append(scopes, ff, sup, sh, shc)

	const n = 300
	hs := make([]*lazytask.Task[int], 0, n)
	cbs := make([]atomic.Int32, n)
	var stop atomic.Bool
	var wg sync.WaitGroup
	if mocked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				mock.Add(50 * time.Microsecond)
				time.Sleep(20 * time.Microsecond) // pacing the mock only, not synchronisation
			}
		}()
	}
	for i := range n {
		sc := scopes[rng.IntN(len(scopes))]
		o := []lazytask.Option{lazytask.WithPriority(rng.IntN(3))}
		if rng.IntN(4) != 0 {
			o = append(o, lazytask.WithDeadline(now().Add(time.Duration(rng.IntN(2000)-200)*time.Microsecond)))
		}
		if rng.IntN(5) == 0 && sc != shc && sc != ff {
			o = append(o, lazytask.WithWeight(2))
		}
		work := time.Duration(rng.IntN(100)) * time.Microsecond
		var h *lazytask.Task[int]
		if rng.IntN(5) == 0 {
			h = scheduler.NewTask(sc, func(ctx context.Context) (int, error) {
				time.Sleep(work)
				return i, nil
			}, o...)
		} else {
			h, _ = scheduler.Submit(sc, func(ctx context.Context) (int, error) {
				time.Sleep(work)
				return i, nil
			}, o...)
		}
		h.OnDone(func(int, error) { cbs[i].Add(1) })
		hs = append(hs, h)
		if h.State() == lazytask.Lazy && rng.IntN(2) == 0 {
			_ = sc.Enqueue(h)
		}
		switch rng.IntN(14) {
		case 0:
			h.Cancel(nil)
		case 1:
			_ = s.Promote(h)
		case 2:
			_ = s.Force(h)
		case 3:
			go hs[rng.IntN(len(hs))].Cancel(nil)
		case 4:
			x := hs[rng.IntN(len(hs))]
			go func() { _ = s.Force(x) }()
		case 5:
			x := hs[rng.IntN(len(hs))]
			go func() { _ = s.Promote(x) }()
		case 6:
			if rng.IntN(8) == 0 {
				go scopes[1+rng.IntN(len(scopes)-1)].Cancel(nil)
			}
		case 7:
			k := 1 + rng.IntN(3)
			go func() { _ = s.Root().Resize(k) }()
		}
	}
	// Lazy tasks never handed over: start half, leave the rest to Shutdown.
	for _, h := range hs {
		if h.State() == lazytask.Lazy && rng.IntN(2) == 0 {
			_ = h.Start()
		}
	}
	ctx, cancel := context.WithTimeout(bg, 500*time.Millisecond)
	_ = s.Shutdown(ctx)
	cancel()
	stop.Store(true)
	wg.Wait()
	ctx2, cancel2 := context.WithTimeout(bg, 10*time.Second)
	defer cancel2()
	for i, h := range hs {
		select {
		case <-h.Done():
		case <-ctx2.Done():
			t.Fatalf("round %d mocked %v: task %d never ended: %v; %+v", round, mocked, i, h.State(), s.Stats())
		}
	}
	_ = s.Shutdown(ctx2) // ErrClosed: a second call
	for i, h := range hs {
		require.True(t, h.State().Terminal(), "task %d: %v", i, h.State())
		// the callback runs on the goroutine that ends the task, after the end
		for cbs[i].Load() == 0 && ctx2.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		assert.Equal(t, int32(1), cbs[i].Load(), "round %d mocked %v: callbacks of task %d (%v, %v)", round, mocked, i, h.State(), h.Err())
	}
	mu.Lock()
	for i, h := range hs {
		assert.Equal(t, 1, doneHooks[h], "round %d mocked %v: done hooks of task %d (%v, rejected %v)", round, mocked, i, h.State(), h.Info().Rejected)
	}
	mu.Unlock()
	st := s.Stats()
	assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected, "round %d mocked %v: %+v", round, mocked, st)
	assert.Zero(t, st.Queued+st.Running+st.Lazy+st.InUse, "round %d mocked %v: %+v", round, mocked, st)
	assert.Zero(t, lim.InUse(), "round %d mocked %v: shared permits left", round, mocked)
	assert.Zero(t, lim.Waiting(), "round %d mocked %v: shared requests left", round, mocked)
}
