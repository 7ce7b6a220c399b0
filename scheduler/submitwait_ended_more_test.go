package scheduler_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A task whose carried context is canceled while SubmitWait waits for room
// in a full queue ends Canceled at once, but SubmitWait goes on waiting for
// room (forever with context.Background()).
func TestSubmitWaitReturnsOnceItsTasksCarriedContextIsCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := scSched(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
		_, g := scHold(t, s)
		_, err := scheduler.Submit(s, func(context.Context) (int, error) { return 0, nil })
		require.NoError(t, err) // fills the queue
		carried, cancel := context.WithCancelCause(context.Background())
		type res struct {
			h   *lazytask.Task[int]
			err error
		}
		out := make(chan res, 1)
		go func() {
			h, err := scheduler.SubmitWait(context.Background(), s, func(context.Context) (int, error) { return 1, nil },
				lazytask.WithContext(carried))
			out <- res{h, err}
		}()
		synctest.Wait()
		cancel(errBoom)
		synctest.Wait()
		select {
		case r := <-out:
			require.ErrorIs(t, r.err, errBoom)
		default:
			g.open()
			r := <-out
			t.Fatalf("SubmitWait still waited for room after its task's carried context was canceled; it returned only once room was made, with %v (state %v)", r.err, r.h.State())
		}
	})
}

// A hook's goroutine force-runs a task while SubmitWait waits for room: the
// task runs and ends, yet SubmitWait still waits for room for it.
func TestSubmitWaitReturnsOnceAHooksGoroutineForceRanItsTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hand := make(chan lazytask.Handle, 4)
		s := scSched(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
		_, g := scHold(t, s)
		_, err := scheduler.Submit(s, func(context.Context) (int, error) { return 0, nil })
		require.NoError(t, err) // fills the queue
		sc := scChild(t, s.Root(), scheduler.WithHooks(scheduler.Hooks{
			OnQueue: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { hand <- h },
		}))
		out := make(chan error, 1)
		go func() {
			_, err := scheduler.SubmitWait(context.Background(), sc, func(context.Context) (int, error) { return 1, nil })
			out <- err
		}()
		h := <-hand
		synctest.Wait()
		ferr := s.Force(h)
		require.NoError(t, ferr)
		require.NoError(t, h.Wait(context.Background()))
		synctest.Wait()
		select {
		case err := <-out:
			require.NoError(t, err)
		default:
			g.open()
			err := <-out
			t.Fatalf("SubmitWait still waited for room after a hook's goroutine force-ran its task (it ended %v); it returned %v once room was made", h.State(), err)
		}
	})
}

// The same, with a Cancel from the hook's goroutine.
func TestSubmitWaitReturnsOnceAHooksGoroutineCanceledItsTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hand := make(chan lazytask.Handle, 4)
		s := scSched(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
		_, g := scHold(t, s)
		_, err := scheduler.Submit(s, func(context.Context) (int, error) { return 0, nil })
		require.NoError(t, err)
		sc := scChild(t, s.Root(), scheduler.WithHooks(scheduler.Hooks{
			OnQueue: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { hand <- h },
		}))
		out := make(chan error, 1)
		go func() {
			_, err := scheduler.SubmitWait(context.Background(), sc, func(context.Context) (int, error) { return 1, nil })
			out <- err
		}()
		h := <-hand
		synctest.Wait()
		require.True(t, h.Cancel(errBoom))
		synctest.Wait()
		select {
		case err := <-out:
			require.True(t, errors.Is(err, errBoom) || errors.Is(err, scheduler.ErrNotQueued), "%v", err)
		default:
			g.open()
			err := <-out
			t.Fatalf("SubmitWait still waited for room after a hook's goroutine canceled its task; it returned %v once room was made", err)
		}
	})
}
