package scheduler_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Shutdown waits for every OnDone, also that of a queued task canceled on
// a goroutine that is none of the scheduler's: here the goroutine of
// context.AfterFunc that cancels a task whose carried context ended, and a
// user's Cancel and Scope.Cancel. The task's end is published (Done is
// closed, the scope counts it out) before its done hooks run on that
// goroutine, so Shutdown used to return while they still ran (a flake of
// lazyotel's span test, 60 in 500 runs; found by a flake hunt, 2026-12-06).
// The hook blocks until Shutdown is seen waiting for the goroutines, or
// returns: returning first is the bug.
func TestShutdownWaitsForDoneHooksOfTasksCanceledOutsideItsGoroutines(t *testing.T) {
	for name, cancelIt := range map[string]func(h *lazytask.Task[struct{}], sc *scheduler.Scope, carried context.CancelCauseFunc){
		"carried context": func(_ *lazytask.Task[struct{}], _ *scheduler.Scope, carried context.CancelCauseFunc) {
			carried(errors.New("request gone"))
		},
		"Cancel from a goroutine": func(h *lazytask.Task[struct{}], _ *scheduler.Scope, _ context.CancelCauseFunc) {
			go h.Cancel(errors.New("not needed"))
		},
		"Scope.Cancel from a goroutine": func(_ *lazytask.Task[struct{}], sc *scheduler.Scope, _ context.CancelCauseFunc) {
			go sc.Cancel(errors.New("scope gone"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			bound, stop := context.WithTimeout(context.Background(), 10*time.Second)
			defer stop()
			entered, release := make(chan struct{}), make(chan struct{})
			var hooksDone atomic.Int32
			s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
				OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
					if h.Name() == "queued" {
						close(entered)
						<-release
					}
					hooksDone.Add(1)
				},
			}))
			require.NoError(t, err)
			sc, err := s.Root().NewScope(scheduler.WithName("sc"))
			require.NoError(t, err)
			hold, unhold := make(chan struct{}), make(chan struct{})
			holder, err := scheduler.Go(s, func(context.Context) error { close(hold); <-unhold; return nil })
			require.NoError(t, err)
			awaitCh(t, bound, hold, "the holder runs")
			carried, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			h, err := scheduler.Go(sc, func(context.Context) error { return nil },
				lazytask.WithContext(carried), lazytask.WithName("queued"))
			require.NoError(t, err)
			require.Equal(t, lazytask.Queued, h.State())
			cancelIt(h, sc, cancel)
			awaitCh(t, bound, h.Done(), "the queued task's end")
			awaitCh(t, bound, entered, "its done hook runs")
			close(unhold)
			require.NoError(t, holder.Wait(bound))
			shut := make(chan error, 1)
			go func() { shut <- s.Shutdown(context.Background()) }()
			for scheduler.GoroutineWaiters(s) == 0 && len(shut) == 0 {
				require.NoError(t, bound.Err(), "Shutdown neither waits nor returns")
				runtime.Gosched()
			}
			assert.Zero(t, len(shut), "Shutdown returned while a done hook still ran")
			close(release)
			require.NoError(t, <-shut)
			assert.EqualValues(t, 2, hooksDone.Load(), "done hooks run when Shutdown returned")
		})
	}
}

// awaitCh waits for ch to be closed, failing the test if ctx ends first.
func awaitCh(t *testing.T, ctx context.Context, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatalf("%s: not before the test's bound", what)
	}
}

// A hook of scheduler A, on a cancel path (a user goroutine's Cancel),
// calls B.Shutdown while a done hook of B's still runs: B's Shutdown waits
// for it. B used to count A's frame of that path as one of its own and
// leave a goroutine of its own out of the wait (a hostile review of
// 8eb7a40, 2026-12-06); goroutines are now told apart by their id.
func TestShutdownOfAnotherSchedulerFromACancelPathHookWaitsForItsHooks(t *testing.T) {
	bound, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	b, release, bHookDone := schedulerInADoneHook(t, bound)
	returned := make(chan bool, 1)
	a, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			if h.Name() == "q" {
				_ = b.Shutdown(context.Background())
				returned <- bHookDone.Load()
			}
		},
	}))
	require.NoError(t, err)
	hold, unhold := make(chan struct{}), make(chan struct{})
	holder, err := scheduler.Go(a, func(context.Context) error { close(hold); <-unhold; return nil })
	require.NoError(t, err)
	awaitCh(t, bound, hold, "A's holder runs")
	q, err := scheduler.Go(a, func(context.Context) error { return nil }, lazytask.WithName("q"))
	require.NoError(t, err)
	require.Equal(t, lazytask.Queued, q.State())
	go q.Cancel(errors.New("not needed"))
	requireShutdownWaitsForTheHook(t, bound, b, release, returned)
	close(unhold)
	require.NoError(t, holder.Wait(bound))
	require.NoError(t, a.Shutdown(bound))
}

// A done hook that calls Shutdown from the cancellation of a scope's
// timeout, or of the base context, runs on the goroutine that Shutdown's
// wait for timeouts counts: it used to wait for itself (I11: a hook that
// shuts its scheduler down cannot deadlock). Found by the same review.
func TestShutdownFromADoneHookOnATimeoutOrBaseContextCancelReturns(t *testing.T) {
	for _, path := range []string{"scope timeout", "base context"} {
		t.Run(path, func(t *testing.T) {
			bound, stop := context.WithTimeout(context.Background(), 10*time.Second)
			defer stop()
			base, cancelBase := context.WithCancel(context.Background())
			defer cancelBase()
			var s *scheduler.Scheduler
			shut := make(chan error, 1)
			// The scope's timeout is on a mock clock: a real 1 ms one could
			// pass before q's Submit, which it then refuses.
			mock := clock.NewMock()
			s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithBaseContext(base), scheduler.WithClock(scheduler.ClockOf(mock)), scheduler.WithHooks(scheduler.Hooks{
				OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
					if h.Name() == "q" {
						over, end := context.WithCancel(context.Background())
						end() // no grace: the holder is canceled at once
						shut <- s.Shutdown(over)
					}
				},
			}))
			require.NoError(t, err)
			hold := make(chan struct{})
			_, err = scheduler.Go(s, func(ctx context.Context) error { close(hold); <-ctx.Done(); return nil })
			require.NoError(t, err)
			awaitCh(t, bound, hold, "the holder runs")
			var sp scheduler.Spawner = s
			if path == "scope timeout" {
				sc, err := s.Root().NewScope(scheduler.WithTimeout(time.Second))
				require.NoError(t, err)
				sp = sc
			}
			q, err := scheduler.Go(sp, func(context.Context) error { return nil }, lazytask.WithName("q"))
			require.NoError(t, err)
			if path == "base context" {
				cancelBase()
			} else {
				mock.Add(2 * time.Second)
			}
			select {
			case err := <-shut:
				if err != nil { // nil where the base context had ended everything already
					assert.ErrorIs(t, err, context.Canceled, "Shutdown from the hook: its grace was over")
				}
			case <-bound.Done():
				t.Fatal("Shutdown from a done hook on the cancellation's goroutine hangs")
			}
			assert.Equal(t, lazytask.Canceled, q.State())
		})
	}
}

// The same for a queued task that a child scope's Shutdown cancels, past
// its grace, from a user's goroutine: the scheduler's Shutdown waits for
// its done hook (a hostile review, 2026-12-06; the child's Shutdown ran the
// hooks uncounted).
func TestShutdownWaitsForDoneHooksOfAChildScopesShutdownFromOutside(t *testing.T) {
	bound, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	hooks, entered, release, hookDone := blockingDoneHook("queued")
	s, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithHooks(hooks))
	require.NoError(t, err)
	child, err := s.Root().NewScope(scheduler.WithLimit(1))
	require.NoError(t, err)
	hold := make(chan struct{})
	_, err = scheduler.Go(child, func(ctx context.Context) error { close(hold); <-ctx.Done(); return nil })
	require.NoError(t, err)
	awaitCh(t, bound, hold, "the holder runs")
	q, err := scheduler.Go(child, func(context.Context) error { return nil }, lazytask.WithName("queued"))
	require.NoError(t, err)
	require.Equal(t, lazytask.Queued, q.State())
	over, end := context.WithCancel(context.Background())
	end()
	go func() { _ = child.Shutdown(over) }() // no grace: q is canceled at once
	awaitCh(t, bound, entered, "q's done hook runs")
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	// Shutdown waits with only the child's Shutdown, inside q's hook, left
	// to wait for; or (the bug) it returns.
	for (scheduler.GoroutineWaiters(s) == 0 || scheduler.GoroutinesCounted(s) != 1) && len(shut) == 0 {
		require.NoError(t, bound.Err(), "Shutdown neither waits for the hook alone nor returns")
		runtime.Gosched()
	}
	assert.Zero(t, len(shut), "Shutdown returned while a done hook still ran")
	close(release)
	require.NoError(t, <-shut)
	assert.True(t, hookDone.Load(), "q's done hook had ended when Shutdown returned")
}

// Scheduler A's done hook, run on A's own goroutine after a task of A's
// ran, shuts B down while a done hook of B's still runs: B's Shutdown
// waits for it. B used to count the caller as one of its own goroutines
// (it told them by the frames on the stack, which are the same for every
// scheduler's) and so waited for one goroutine too few: it returned while
// B's hook ran. Then a Shutdown of A from inside A's hook still leaves the
// hook's goroutine out of its wait, and returns.
func TestShutdownOfAnotherSchedulerFromAWorkGoroutinesHookWaitsForItsHooks(t *testing.T) {
	bound, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	b, release, bHookDone := schedulerInADoneHook(t, bound)
	returned := make(chan bool, 1)
	aReturned := make(chan error, 1)
	var a *scheduler.Scheduler
	a, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			if h.Name() == "at" {
				_ = b.Shutdown(context.Background())
				returned <- bHookDone.Load()
				aReturned <- a.Shutdown(context.Background())
			}
		},
	}))
	require.NoError(t, err)
	_, err = scheduler.Go(a, func(context.Context) error { return nil }, lazytask.WithName("at"))
	require.NoError(t, err)
	requireShutdownWaitsForTheHook(t, bound, b, release, returned)
	select {
	case err := <-aReturned:
		require.NoError(t, err)
	case <-bound.Done():
		t.Fatal("A's Shutdown from A's own done hook waited for itself")
	}
	// A second Shutdown, from outside, waits for the hook's goroutine too.
	require.ErrorIs(t, a.Shutdown(bound), scheduler.ErrClosed)
	assert.Zero(t, scheduler.GoroutinesCounted(a), "A's goroutines after its Shutdown from outside")
}

// schedulerInADoneHook returns scheduler B with a done hook of its task
// "bt" running, blocked until release is closed; bHookDone is set as the
// hook returns.
func schedulerInADoneHook(t *testing.T, bound context.Context) (*scheduler.Scheduler, chan struct{}, *atomic.Bool) {
	t.Helper()
	hooks, entered, release, bHookDone := blockingDoneHook("bt")
	b, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithHooks(hooks))
	require.NoError(t, err)
	_, err = scheduler.Go(b, func(context.Context) error { return nil }, lazytask.WithName("bt"))
	require.NoError(t, err)
	awaitCh(t, bound, entered, "B's done hook runs")
	return b, release, bHookDone
}

// requireShutdownWaitsForTheHook checks that a Shutdown of b, made
// elsewhere, which sends on returned once it has returned whether b's hook
// had ended, waits for the hook that release holds: it must be waiting,
// not returned, until release is closed.
func requireShutdownWaitsForTheHook(t *testing.T, bound context.Context, b *scheduler.Scheduler, release chan struct{}, returned chan bool) {
	t.Helper()
	for scheduler.GoroutineWaiters(b) == 0 && len(returned) == 0 {
		require.NoError(t, bound.Err(), "B's Shutdown neither waits nor returns")
		runtime.Gosched()
	}
	assert.Zero(t, len(returned), "B's Shutdown returned while B's done hook still ran")
	close(release)
	assert.True(t, <-returned, "B's done hook had ended when B's Shutdown returned")
}

// blockingDoneHook returns hooks whose OnDone, for the task named name,
// closes entered, blocks until release is closed, then sets done.
func blockingDoneHook(name string) (hooks scheduler.Hooks, entered, release chan struct{}, done *atomic.Bool) {
	entered, release, done = make(chan struct{}), make(chan struct{}), new(atomic.Bool)
	hooks.OnDone = func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
		if h.Name() == name {
			close(entered)
			<-release
			done.Store(true)
		}
	}
	return hooks, entered, release, done
}
