package scheduler_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// cancelInsideHang bounds the waits of these tests: a hang guard, not
// synchronisation.
const cancelInsideHang = 10 * time.Second

// I11: "a callback that awaits another task ... cannot deadlock", also when
// the callback is run by a task's Cancel of a queued task. At cap 1 the
// canceler holds the only slot while the callback runs on its goroutine;
// the callback's wait, made with a context of its own, lends that slot, so
// the task queued behind runs. Before, the callback waited for ever.
func TestACallbackRunByACancelFromInsideATaskMayAwaitATaskQueuedBehind(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(1))
	// A holder takes the only slot, so that victim, canceler and behind
	// all queue; the canceler is then promoted, to run first.
	release, holder := holdOnlySlot(t, s)
	victim, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	var behind *lazytask.Task[int]
	got := make(chan error, 1)
	victim.OnDone(awaitBehind(&behind, got))
	canceled := make(chan bool, 1)
	canceler, err := scheduler.Submit(s, func(context.Context) (int, error) {
		canceled <- victim.Cancel(errCancelInside)
		return 2, nil
	})
	require.NoError(t, err)
	behind, err = scheduler.Submit(s, func(context.Context) (int, error) { return 3, nil })
	require.NoError(t, err)
	require.NoError(t, s.Promote(canceler))
	release()
	waitInside(t, got, "a callback run by Cancel from inside a task, awaiting the task queued behind at cap 1")
	assert.True(t, <-canceled, "the canceler's Cancel of the queued task")
	ctx, cancel := context.WithTimeout(context.Background(), cancelInsideHang)
	defer cancel()
	v, err := canceler.Await(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, v)
	_, err = holder.Await(ctx)
	require.NoError(t, err)
	assert.ErrorIs(t, victim.Err(), errCancelInside)
	assert.Equal(t, lazytask.Canceled, victim.State(), "the victim never ran")
	require.NoError(t, s.Shutdown(ctx))
	st := s.Stats()
	assert.Equal(t, 0, st.InUse, "every slot is back")
	assert.Equal(t, uint64(3), st.Succeeded)
	assert.Equal(t, uint64(1), st.Canceled)
}

// I11: "a callback that ... shuts its scheduler down cannot deadlock": a
// callback run by a task's Cancel on the task's goroutine is inside that
// task, so its Shutdown leaves the task out, as a Shutdown from inside a
// task does. Before, it waited for the task, which waited for it.
func TestACallbackRunByACancelFromInsideATaskMayShutTheSchedulerDown(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(1))
	started := make(chan struct{})
	release := make(chan struct{})
	victim := scheduler.NewTask(s, func(context.Context) (int, error) { return 1, nil })
	shut := make(chan error, 1)
	victim.OnDone(func(int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), cancelInsideHang)
		defer cancel()
		shut <- s.Shutdown(ctx)
	})
	canceler, err := scheduler.Submit(s, func(context.Context) (int, error) {
		close(started)
		<-release
		victim.Cancel(errCancelInside)
		return 2, nil
	})
	require.NoError(t, err)
	<-started
	require.NoError(t, s.Enqueue(victim)) // queued behind the canceler
	close(release)
	select {
	case err := <-shut:
		require.NoError(t, err, "Shutdown from the callback")
	case <-time.After(cancelInsideHang):
		t.Fatal("Shutdown from a callback run by Cancel from inside a task hung")
	}
	ctx, cancel := context.WithTimeout(context.Background(), cancelInsideHang)
	defer cancel()
	v, err := canceler.Await(ctx)
	require.NoError(t, err, "the canceler ends after the callback")
	assert.Equal(t, 2, v)
	assert.Equal(t, lazytask.Canceled, victim.State())
	_, err = scheduler.Submit(s, func(context.Context) (int, error) { return 0, nil })
	assert.ErrorIs(t, err, scheduler.ErrClosed, "the scheduler is shut down")
}

var errCancelInside = errors.New("canceled from inside a task")

// The task the callback is inside may be another scheduler's: the victim
// waits in s2's queue, the canceler runs in s1 at cap 1, and the victim's
// callback, run on the canceler's goroutine, awaits a task queued behind
// the canceler in s1. The wait lends the canceler's slot in s1.
func TestACallbackRunByACancelFromATaskOfAnotherSchedulerLendsThatTasksSlot(t *testing.T) {
	s1 := scSched(t, scheduler.WithLimit(1))
	s2 := scSched(t, scheduler.WithLimit(1))
	release, holder := holdOnlySlot(t, s2)
	victim, err := scheduler.Submit(s2, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	var behind *lazytask.Task[int]
	got := make(chan error, 1)
	victim.OnDone(awaitBehind(&behind, got))
	inside := make(chan struct{})
	goOn := make(chan struct{})
	canceler, err := scheduler.Submit(s1, func(context.Context) (int, error) {
		close(inside)
		<-goOn
		victim.Cancel(errCancelInside)
		return 2, nil
	})
	require.NoError(t, err)
	<-inside
	behind, err = scheduler.Submit(s1, func(context.Context) (int, error) { return 3, nil })
	require.NoError(t, err)
	close(goOn)
	waitInside(t, got, "a callback run by Cancel from a task of another scheduler, awaiting the task queued behind in s1")
	release()
	ctx, cancel := context.WithTimeout(context.Background(), cancelInsideHang)
	defer cancel()
	for _, h := range []*lazytask.Task[int]{canceler, holder} {
		_, err := h.Await(ctx)
		require.NoError(t, err)
	}
	assert.Equal(t, lazytask.Canceled, victim.State())
	assert.Equal(t, 0, s1.Stats().InUse)
}

// A done hook run there is inside the canceler too, even when the context
// it waits with is the canceled task's own, its cancellation dropped
// (context.WithoutCancel, as a tracer keeps a task's values): that task
// never ran, so the wait lends the slot of the task that runs.
func TestADoneHookRunByACancelFromInsideATaskMayAwaitATaskQueuedBehind(t *testing.T) {
	var victim, behind *lazytask.Task[int]
	got := make(chan error, 1)
	s := scSched(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			if h != lazytask.Handle(victim) {
				return
			}
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelInsideHang)
			defer cancel()
			_, err := behind.Await(ctx)
			got <- err
		},
	}))
	release, _ := holdOnlySlot(t, s)
	victim = scheduler.NewTask(s, func(context.Context) (int, error) { return 1, nil })
	canceler := scheduler.NewTask(s, func(context.Context) (int, error) {
		victim.Cancel(errCancelInside)
		return 2, nil
	})
	behind = scheduler.NewTask(s, func(context.Context) (int, error) { return 3, nil })
	for _, h := range []*lazytask.Task[int]{victim, canceler, behind} {
		require.NoError(t, s.Enqueue(h))
	}
	require.NoError(t, s.Promote(canceler))
	release()
	waitInside(t, got, "a done hook run by Cancel from inside a task, awaiting the task queued behind at cap 1")
	ctx, cancel := context.WithTimeout(context.Background(), cancelInsideHang)
	defer cancel()
	v, err := canceler.Await(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, v)
	assert.Equal(t, lazytask.Canceled, victim.State())
}

// awaitBehind returns a callback that awaits *behind (a task that returns
// 3) with a context of its own, bounded by the hang guard, and sends the
// result to got.
func awaitBehind(behind **lazytask.Task[int], got chan<- error) func(int, error) {
	return func(int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), cancelInsideHang)
		defer cancel()
		v, err := (*behind).Await(ctx)
		if err == nil && v != 3 {
			err = errors.New("the task behind returned a wrong value")
		}
		got <- err
	}
}

// waitInside waits for a callback's result, or fails the test as a hang.
func waitInside(t *testing.T, got <-chan error, what string) {
	t.Helper()
	select {
	case err := <-got:
		require.NoError(t, err, what)
	case <-time.After(cancelInsideHang):
		t.Fatal("deadlock: " + what)
	}
}

// holdOnlySlot submits a task that takes s's only slot until release is
// called, and returns once it has.
func holdOnlySlot(t *testing.T, s *scheduler.Scheduler) (release func(), holder *lazytask.Task[int]) {
	t.Helper()
	holding, rel := make(chan struct{}), make(chan struct{})
	holder, err := scheduler.Submit(s, func(context.Context) (int, error) {
		close(holding)
		<-rel
		return 0, nil
	})
	require.NoError(t, err)
	<-holding
	return sync.OnceFunc(func() { close(rel) }), holder
}

// A task's Cancel of an unbound Lazy task (lazytask.New) runs its callbacks
// on the task's goroutine too, by another path (no owner): inside the task.
func TestACallbackRunByACancelOfAnUnboundLazyTaskFromInsideATaskMayAwaitATaskQueuedBehind(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(1))
	release, _ := holdOnlySlot(t, s)
	victim := lazytask.New(func(context.Context) (int, error) { return 1, nil })
	var behind *lazytask.Task[int]
	got := make(chan error, 1)
	victim.OnDone(awaitBehind(&behind, got))
	canceler, err := scheduler.Submit(s, func(context.Context) (int, error) {
		victim.Cancel(errCancelInside)
		return 2, nil
	})
	require.NoError(t, err)
	behind, err = scheduler.Submit(s, func(context.Context) (int, error) { return 3, nil })
	require.NoError(t, err)
	require.NoError(t, s.Promote(canceler))
	release()
	waitInside(t, got, "the callback of an unbound Lazy task canceled from inside a task")
	assert.Equal(t, lazytask.Canceled, victim.State())
}

// A Submit refused inside a task (a full queue) runs the refused task's
// done hooks on the submitting task's goroutine: inside that task.
func TestADoneHookOfASubmitRefusedInsideATaskMayAwaitATaskQueuedBehind(t *testing.T) {
	var behind *lazytask.Task[int]
	got := make(chan error, 1)
	s := scSched(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			if h.Info().Rejected {
				awaitBehind(&behind, got)(0, nil)
			}
		},
	}))
	started, goOn := make(chan struct{}), make(chan struct{})
	refused := make(chan error, 1)
	_, err := scheduler.Submit(s, func(context.Context) (int, error) {
		close(started)
		<-goOn
		_, err := scheduler.Submit(s, func(context.Context) (int, error) { return 9, nil })
		refused <- err
		return 2, nil
	})
	require.NoError(t, err)
	<-started
	behind, err = scheduler.Submit(s, func(context.Context) (int, error) { return 3, nil }) // fills the queue
	require.NoError(t, err)
	close(goOn)
	waitInside(t, got, "the done hook of a Submit refused inside a task")
	assert.ErrorIs(t, <-refused, scheduler.ErrQueueFull)
}

// An executor that runs a scheduler's goroutines as tasks of another nests
// one work loop in another on a goroutine: once the inner one ends, the
// outer task's callbacks are inside it again.
func TestACallbackSectionSurvivesAWorkLoopNestedOnItsGoroutine(t *testing.T) {
	s0 := scSched(t, scheduler.WithLimit(1))
	cancelNow, outerOK := make(chan struct{}), make(chan struct{})
	var victim, outer *lazytask.Task[int]
	s1 := scSched(t, scheduler.WithLimit(1), scheduler.WithExecutor(func(run func()) {
		outer, _ = scheduler.Submit(s0, func(context.Context) (int, error) {
			run() // s1's work loop, until s1's Shutdown dismisses it
			<-cancelNow
			victim.Cancel(errCancelInside)
			return 0, nil
		})
		close(outerOK)
	}))
	inner, err := scheduler.Submit(s1, func(context.Context) (int, error) { return 0, nil })
	require.NoError(t, err)
	<-outerOK
	ctx, cancel := context.WithTimeout(context.Background(), cancelInsideHang)
	defer cancel()
	_, err = inner.Await(ctx)
	require.NoError(t, err)
	victim, err = scheduler.Submit(s0, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	var behind *lazytask.Task[int]
	got := make(chan error, 1)
	victim.OnDone(awaitBehind(&behind, got))
	behind, err = scheduler.Submit(s0, func(context.Context) (int, error) { return 3, nil })
	require.NoError(t, err)
	require.NoError(t, s1.Shutdown(ctx)) // the inner work loop ends: run returns
	close(cancelNow)
	waitInside(t, got, "the outer task's callback after a work loop nested on its goroutine")
	_, err = outer.Await(ctx)
	require.NoError(t, err)
}
