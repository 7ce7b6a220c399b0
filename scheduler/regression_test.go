package scheduler_test

// Regression tests of bugs found while writing the suite, now fixed.

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Force of the task at the head of the queue takes it out without admitting
// the tasks behind it, even when the new head fits in a free slot: the slot
// stays idle until some other task ends. Enqueue, Cancel, Promote and
// Resize all admit what fits after they change the queue; force does not.
func TestBugForceOfTheHeadAdmitsTheTasksBehindItThatFit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(3))
		_, holder := hold(t, s, lazytask.WithWeight(2)) // 1 slot free
		heavyGate := newGate(t)
		heavy, err := scheduler.Submit(s, heavyGate.fn, lazytask.WithWeight(2))
		require.NoError(t, err)
		light, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
		require.NoError(t, err)
		require.Equal(t, lazytask.Queued, light.State(), "light waits behind the heavy head")

		require.NoError(t, s.Force(heavy))
		<-heavyGate.started
		synctest.Wait()
		assert.Equal(t, lazytask.Succeeded, light.State(),
			"light.State() after the heavy head was force-run (1 slot free, light fits)")
		assert.Zero(t, s.Stats().Queued, "Stats().Queued")
		heavyGate.open()
		holder.open()
	})
}

// A goroutine that a task leaves behind, awaiting another task with a
// context derived from the task's (slot lending, I9), takes the slot back
// after the task has ended and released everything: the slot is never
// given back. Here context.WithoutCancel makes the order deterministic;
// with the task's own context it is a race between Release and Reclaim.
func TestBugAwaitOutlivingItsTaskDoesNotLeakTheLentSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(1))
		other := lazytask.New(func(context.Context) (int, error) { return 1, nil })
		proceed := make(chan struct{})
		waiterDone := make(chan struct{})
		outer, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			go func() {
				defer close(waiterDone)
				_, _ = other.Await(context.WithoutCancel(ctx)) // lends the slot
			}()
			<-proceed
			return 0, nil // returns while its goroutine still waits
		})
		require.NoError(t, err)
		synctest.Wait() // the goroutine is waiting, the slot lent
		close(proceed)
		_, _ = outer.Await(bg)
		require.NoError(t, other.Start())
		<-waiterDone
		require.NoError(t, s.Wait(bg))
		assert.Zero(t, s.Stats().InUse, "Stats().InUse after every task ended (I5)")
		// With the slot leaked, a cap of 1 admits nothing more.
		next, err := scheduler.Submit(s, func(context.Context) (int, error) { return 2, nil })
		require.NoError(t, err)
		synctest.Wait()
		assert.Equal(t, lazytask.Succeeded, next.State(), "a task submitted afterwards runs")
		if next.State() != lazytask.Succeeded {
			require.True(t, next.Cancel(errors.New("leaked slot")))
		}
	})
}

// The package doc: "a submit that finds a free slot starts the task on a
// new goroutine". Right after a task ends, its goroutine lingers for work;
// while it does, Submit queues even when slots are free and leaves the
// admission to that goroutine, which takes one task and exits. The other
// tasks submitted meanwhile wait with free slots until some task ends. An
// attempt hits the window most of the time; 50 attempts make a miss
// vanishingly unlikely.
func TestBugTasksSubmittedWhileAGoroutineLingersStartInFreeSlots(t *testing.T) {
	for attempt := range 50 {
		stuck := false
		synctest.Test(t, func(t *testing.T) {
			s := startScheduler(t, scheduler.WithLimit(4))
			first, err := scheduler.Submit(s, func(context.Context) (int, error) { return 0, nil })
			require.NoError(t, err)
			_, _ = first.Await(bg) // its goroutine now lingers for work
			gates := make([]*gate, 3)
			hs := make([]*lazytask.Task[int], 3)
			for i := range gates {
				gates[i] = newGate(t)
				hs[i], err = scheduler.Submit(s, gates[i].fn)
				require.NoError(t, err)
			}
			synctest.Wait() // every goroutine is blocked or gone
			for i, h := range hs {
				if h.State() == lazytask.Queued {
					stuck = true
					t.Errorf("attempt %d: task %d State() = queued with %d of 4 slots in use; want running",
						attempt, i, s.Stats().InUse)
				}
			}
			for _, g := range gates {
				g.open()
			}
		})
		if stuck {
			return
		}
	}
}

func TestGoexitWithoutPanicRecoveryEndsTheTask(t *testing.T) {
	s, _ := scheduler.New(scheduler.WithoutPanicRecovery())
	task, _ := scheduler.Go(s, func(context.Context) error { runtime.Goexit(); return nil })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.ErrorIs(t, task.Wait(ctx), lazytask.ErrGoexit)
	require.Equal(t, lazytask.Failed, task.State())
	require.NoError(t, s.Shutdown(context.Background()))
}

func TestShutdownReportsTheGraceEndWhenAChildTaskWasCanceled(t *testing.T) {
	s, _ := scheduler.New()
	sc, _ := s.Root().NewScope()
	started := make(chan struct{})
	scheduler.Go(sc, func(ctx context.Context) error { close(started); <-ctx.Done(); return ctx.Err() })
	<-started
	grace, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, s.Shutdown(grace), context.Canceled, "Shutdown(ended grace)")
}

// A scheduler without panic recovery whose executor recovers panics (as a
// pond pool does by default) does not lose the task: it has ended Failed
// with the panic, and its slot is free.
func TestAPanicThatTheExecutorRecoversEndsTheTask(t *testing.T) {
	exec := func(run func()) {
		go func() {
			defer func() { _ = recover() }()
			run()
		}()
	}
	s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithoutPanicRecovery(), scheduler.WithExecutor(exec),
		scheduler.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	h, err := scheduler.Go(s, func(context.Context) error { panic("boom") })
	require.NoError(t, err)
	next, err := scheduler.Go(s, func(context.Context) error { return nil })
	require.NoError(t, err)
	err = h.Wait(bounded(t)) // the task's error, once it has ended
	var pe *lazytask.PanicError
	require.ErrorAs(t, err, &pe, "the task's error")
	assert.Equal(t, "boom", pe.Value)
	assert.Equal(t, lazytask.Failed, h.State())
	require.NoError(t, next.Wait(bounded(t)), "the next task, in the slot the panic freed")
	require.NoError(t, s.Shutdown(bounded(t)))
}

// A hook that sees a task before its handoff and hands it over itself
// (Force) makes no refusal: Submit returns no error, the task runs once,
// and the done hooks see it end once, after the end. A hook's Start or
// Enqueue of it is refused (lazytask.ErrHandingOver, see
// hook_handoff_test.go), and the handoff under way goes on: the same
// holds. NewTask's task, refused its Start by its OnCreate, stays Lazy,
// bound, and a later Start force-runs it.
func TestAHookThatHandsTheTaskOverItselfIsNoRefusal(t *testing.T) {
	for _, mode := range []string{"force", "start", "enqueue", "enqueue-other", "newtask-start"} {
		t.Run(mode, func(t *testing.T) {
			var s *scheduler.Scheduler
			var other *scheduler.Scope
			var mu sync.Mutex
			var doneStates []lazytask.State
			hooked := make(chan struct{}, 4) // a done hook ran (it may run after Wait returns)
			var done atomic.Bool             // hand over once
			var handErr error
			handOver := func(sc *scheduler.Scope, h lazytask.Handle) {
				if !done.CompareAndSwap(false, true) {
					return
				}
				switch mode {
				case "force":
					handErr = s.Force(h)
				case "start", "newtask-start":
					handErr = h.Start()
				case "enqueue":
					handErr = sc.Enqueue(h)
				case "enqueue-other":
					handErr = other.Enqueue(h)
				}
			}
			hooks := scheduler.Hooks{
				OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
					mu.Lock()
					doneStates = append(doneStates, h.State())
					mu.Unlock()
					hooked <- struct{}{}
				},
			}
			if mode == "newtask-start" {
				hooks.OnCreate = func(_ context.Context, sc *scheduler.Scope, h lazytask.Handle) { handOver(sc, h) }
			} else {
				hooks.OnQueue = func(_ context.Context, sc *scheduler.Scope, h lazytask.Handle) { handOver(sc, h) }
			}
			s = scSched(t, scheduler.WithLimit(1), scheduler.WithHooks(hooks))
			other = scChild(t, s.Root())
			var runs atomic.Int32
			fn := func(context.Context) (int, error) { runs.Add(1); return 1, nil }
			var h *lazytask.Task[int]
			if mode == "newtask-start" {
				h = scheduler.NewTask(s, fn)
				require.ErrorIs(t, handErr, lazytask.ErrHandingOver, "Start from NewTask's OnCreate")
				require.Equal(t, lazytask.Lazy, h.State())
				require.NoError(t, h.Start(), "Start once NewTask has returned")
			} else {
				var err error
				h, err = scheduler.Submit(s, fn)
				require.NoError(t, err, "Submit, though a hook handed the task over")
			}
			v, err := h.Await(bounded(t))
			require.NoError(t, err)
			assert.Equal(t, 1, v)
			require.NoError(t, s.Wait(bounded(t)))
			select {
			case <-hooked:
			case <-bounded(t).Done():
				t.Fatal("no done hook ran")
			}
			require.NoError(t, s.Shutdown(bounded(t))) // waits for the goroutines that run hooks
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, int32(1), runs.Load(), "runs")
			assert.Equal(t, []lazytask.State{lazytask.Succeeded}, doneStates, "what the done hooks saw, once each")
			assert.Zero(t, s.Stats().Rejected, "rejected")
			if mode == "force" {
				assert.NoError(t, handErr, "Force from the hook")
			} else {
				assert.ErrorIs(t, handErr, lazytask.ErrHandingOver, "the hook's %s", mode)
			}
		})
	}
}
