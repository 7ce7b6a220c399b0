package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// pond: a pool with a queue size refuses the task past it, and takes
// again once room is made, whichever way room is made.
func TestQueueLimitRoomMadeEveryWay(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(2))
	_, g := hold(t, s)
	a, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	b, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { return 2, nil })
	require.NoError(t, err)
	c, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { return 3, nil })
	require.ErrorIs(t, err, scheduler.ErrQueueFull)
	assert.True(t, c.Info().Rejected)
	statsAddUp(t, s.Stats(), "hostile_peers")

	// cancel frees room
	require.True(t, a.Cancel(nil))
	d, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { return 4, nil })
	require.NoError(t, err)
	_, err = scheduler.Submit(s, func(ctx context.Context) (int, error) { return 5, nil })
	require.ErrorIs(t, err, scheduler.ErrQueueFull)
	// force frees room
	require.NoError(t, s.Force(b))
	_, err = b.Await(bg)
	require.NoError(t, err)
	e, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { return 6, nil })
	require.NoError(t, err)
	// a lazy task does not count, and its Enqueue is refused while full
	l := lazytask.New(func(ctx context.Context) (int, error) { return 7, nil })
	require.ErrorIs(t, s.Enqueue(l), scheduler.ErrQueueFull)
	assert.Equal(t, lazytask.Lazy, l.State())
	nt := scheduler.NewTask(s, func(ctx context.Context) (int, error) { return 8, nil })
	require.ErrorIs(t, s.Enqueue(nt), scheduler.ErrQueueFull)
	assert.Equal(t, lazytask.Lazy, nt.State())
	statsAddUp(t, s.Stats(), "hostile_peers")
	g.open()
	for _, h := range []*lazytask.Task[int]{d, e} {
		_, err := h.Await(bg)
		require.NoError(t, err)
	}
	require.NoError(t, s.Enqueue(nt))
	v, err := nt.Await(bg)
	require.NoError(t, err)
	assert.Equal(t, 8, v)
	require.NoError(t, s.Wait(bg))
	statsAddUp(t, s.Stats(), "hostile_peers")
}

// SubmitWait wakes when room is made by a cancel, a force, a scope
// cancel, and a resize that fails a heavy queued task.
func TestSubmitWaitWakesOnEveryKindOfRoom(t *testing.T) {
	for _, how := range []string{"cancel", "force", "scopecancel", "resize", "promote-then-cancel", "scopeshutdown"} {
		t.Run(how, func(t *testing.T) {
			s := startScheduler(t, scheduler.WithLimit(2), scheduler.WithQueueLimit(1))
			sc, err := s.Root().NewScope(scheduler.WithLimit(2))
			require.NoError(t, err)
			_, g := hold(t, s, lazytask.WithWeight(2))
			w := 1
			if how == "resize" {
				w = 2
			}
			q, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) { return 1, nil }, lazytask.WithWeight(w))
			require.NoError(t, err)
			done := make(chan error, 1)
			var h2 *lazytask.Task[int]
			go func() {
				var err error
				h2, err = scheduler.SubmitWait(bg, s, func(ctx context.Context) (int, error) { return 2, nil })
				done <- err
			}()
			// make sure it's waiting: queue still full
			time.Sleep(20 * time.Millisecond) // discovery only: let SubmitWait block
			switch how {
			case "cancel":
				q.Cancel(nil)
			case "force":
				require.NoError(t, s.Force(q))
			case "scopecancel":
				sc.Cancel(nil)
			case "resize":
				require.NoError(t, sc.Resize(1))
			case "promote-then-cancel":
				require.NoError(t, s.Promote(q))
				q.Cancel(nil)
			case "scopeshutdown":
				ctx, cancel := context.WithCancel(bg)
				cancel()
				go sc.Shutdown(ctx)
			}
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(5 * time.Second):
				t.Fatal("SubmitWait did not wake")
			}
			g.open()
			_, err = h2.Await(bg)
			require.NoError(t, err)
			require.NoError(t, s.Wait(bg))
			statsAddUp(t, s.Stats(), "hostile_peers")
		})
	}
}

// pond: concurrent submitters to a bounded queue: exactly the limit is
// taken.
func TestQueueLimitConcurrentSubmittersTakeExactlyTheLimit(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(10))
	sc, err := s.Root().NewScope()
	require.NoError(t, err)
	_, g := hold(t, s)
	var ok, full atomic.Int64
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				var sp scheduler.Spawner = s
				if i%2 == 0 {
					sp = sc
				}
				_, err := scheduler.Go(sp, func(ctx context.Context) error { return nil })
				if err == nil {
					ok.Add(1)
				} else if errors.Is(err, scheduler.ErrQueueFull) {
					full.Add(1)
				} else {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 10, ok.Load())
	assert.EqualValues(t, 190, full.Load())
	st := s.Stats()
	assert.Equal(t, 10, st.Queued)
	statsAddUp(t, st, "hostile_peers")
	g.open()
	require.NoError(t, s.Wait(bg))
	statsAddUp(t, s.Stats(), "hostile_peers")
}

// The identity over a messy sequence.
func TestStatsIdentityOverAMessySequence(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(2), scheduler.WithQueueLimit(5))
	ff, err := s.Root().NewScope(scheduler.FailFast(), scheduler.WithLimit(2))
	require.NoError(t, err)
	sup, err := s.Root().NewScope(scheduler.WithLimit(1))
	require.NoError(t, err)
	_, g := hold(t, sup)
	_, g2 := hold(t, ff)
	statsAddUp(t, s.Stats(), "hostile_peers")
	heavy, err := scheduler.Go(ff, func(ctx context.Context) error { return nil }, lazytask.WithWeight(2))
	require.NoError(t, err)
	_, err = scheduler.Go(ff, func(ctx context.Context) error { return nil }, lazytask.WithWeight(3))
	require.ErrorIs(t, err, scheduler.ErrWeightTooLarge)
	l1 := scheduler.NewTask(ff, func(ctx context.Context) (int, error) { return 0, nil })
	l2 := scheduler.NewTask(sup, func(ctx context.Context) (int, error) { return 0, nil })
	_ = l2
	q1, err := scheduler.Go(sup, func(ctx context.Context) error { return errors.New("x") })
	require.NoError(t, err)
	statsAddUp(t, s.Stats(), "hostile_peers")
	require.NoError(t, ff.Resize(1)) // heavy fails with ErrWeightTooLarge, ff canceled
	_, err = heavy.Await(bg)
	require.ErrorIs(t, err, scheduler.ErrWeightTooLarge)
	statsAddUp(t, s.Stats(), "hostile_peers")
	assert.Equal(t, lazytask.Canceled, l1.State(), "lazy of a failed fail-fast scope")
	require.NoError(t, s.Force(q1))
	_, _ = q1.Await(bg)
	statsAddUp(t, s.Stats(), "hostile_peers")
	g.open()
	g2.open()
	require.NoError(t, s.Root().Wait(bg))
	statsAddUp(t, s.Stats(), "hostile_peers")
	require.NoError(t, s.Shutdown(bg))
	st := s.Stats()
	statsAddUp(t, st, "hostile_peers")
	assert.Equal(t, 0, st.Lazy)
	assert.Equal(t, 0, st.InUse)
	assert.Equal(t, lazytask.Canceled, l2.State())
}

// Kotlin LAZY: a lazy job's completion handler runs exactly once, however
// it ends: started, canceled, or closed with its scope, also racing.
func TestLazyOnDoneExactlyOnceRacingStartCancelClose(t *testing.T) {
	for i := range 200 {
		s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithLogger(quietLogger))
		require.NoError(t, err)
		sc, err := s.Root().NewScope(scheduler.WithLimit(1))
		require.NoError(t, err)
		var ran, calls atomic.Int32
		h := scheduler.NewTask(sc, func(ctx context.Context) (int, error) { ran.Add(1); return 1, nil })
		h.OnDone(func(int, error) { calls.Add(1) })
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(4)
		go func() { defer wg.Done(); <-start; _ = h.Start() }()
		go func() { defer wg.Done(); <-start; h.Cancel(nil) }()
		go func() { defer wg.Done(); <-start; _ = sc.Shutdown(bg) }()
		go func() { defer wg.Done(); <-start; _ = sc.Enqueue(h) }()
		close(start)
		wg.Wait()
		<-h.Done()
		require.NoError(t, s.Shutdown(bg))
		require.EqualValues(t, 1, calls.Load(), "round %d", i)
		require.LessOrEqual(t, ran.Load(), int32(1))
		if ran.Load() == 1 {
			require.Equal(t, lazytask.Succeeded, h.State())
		} else {
			require.Equal(t, lazytask.Canceled, h.State())
		}
		st := s.Stats()
		statsAddUp(t, st, "hostile_peers")
		require.Equal(t, 0, st.InUse)
		require.Equal(t, 0, st.Lazy)
	}
}

// A supervisor parent with a fail-fast child: the handler sees one
// ScopeError; siblings go on.
func TestSupervisorGetsOneScopeErrorFromAFailFastChild(t *testing.T) {
	var mu sync.Mutex
	var got []error
	s := startScheduler(t, scheduler.WithLimit(8), scheduler.Supervise(func(info lazytask.Info, err error) {
		mu.Lock()
		got = append(got, err)
		mu.Unlock()
	}))
	ch, err := s.Root().NewScope(scheduler.FailFast(), scheduler.WithName("child"))
	require.NoError(t, err)
	e1 := errors.New("e1")
	submitted := make(chan struct{}) // e1 comes once all five are in: a fail-fast child refuses later submits
	for i := range 5 {
		_, err := scheduler.Go(ch, func(ctx context.Context) error {
			if i == 2 {
				<-submitted
				return e1
			}
			<-ctx.Done()
			return fmt.Errorf("wrapped: %w", context.Cause(ctx))
		})
		require.NoError(t, err)
	}
	close(submitted)
	err = ch.Wait(bg)
	require.ErrorIs(t, err, e1)
	require.NoError(t, s.Wait(bg))
	require.NoError(t, s.Shutdown(bg))
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 1, "%v", got)
	var se *scheduler.ScopeError
	require.ErrorAs(t, got[0], &se)
	assert.Equal(t, "child", se.Scope)
	// only one real error
	assert.Equal(t, e1.Error(), err.Error())
}

// Trio: a nursery (fail-fast scope) whose own deadline passes: every task
// ends, Wait returns, queued tasks never ran.
func TestScopeDeadlineWithQueuedTasks(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	sc, err := s.Root().NewScope(scheduler.WithTimeout(20*time.Millisecond), scheduler.FailFast())
	require.NoError(t, err)
	var ran atomic.Int32
	hs := make([]*lazytask.Task[struct{}], 5)
	for i := range hs {
		hs[i], err = scheduler.Go(sc, func(ctx context.Context) error {
			ran.Add(1)
			<-ctx.Done()
			return ctx.Err()
		})
		require.NoError(t, err)
	}
	err = sc.Wait(bg)
	assert.NoError(t, err, "a deadline's cancellations are not errors")
	assert.LessOrEqual(t, ran.Load(), int32(1))
	for _, h := range hs {
		<-h.Done()
		assert.Equal(t, lazytask.Canceled, h.State())
		assert.ErrorIs(t, h.Err(), context.DeadlineExceeded)
	}
	statsAddUp(t, s.Stats(), "hostile_peers")
}
