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

// SubmitWait into a full bounded queue (fullQueue), whose task or scope
// ends while it waits for room: it returns then, not once room is made.

// submitWaitAsync calls SubmitWait with no deadline on a goroutine of its
// own.
func submitWaitAsync(sp scheduler.Spawner, opts ...lazytask.Option) <-chan submitted {
	out := make(chan submitted, 1)
	go func() {
		h, err := scheduler.SubmitWait(bg, sp, func(context.Context) (int, error) { return 1, nil }, opts...)
		out <- submitted{h, err}
	}()
	return out
}

// awaitReturn waits until every goroutine of the bubble is blocked and
// reports SubmitWait's result; waiting tells that it was still waiting,
// and the result is then the one it gave once the gate opened and made
// room.
func awaitReturn(out <-chan submitted, g *gate) (r submitted, waiting bool) {
	synctest.Wait()
	select {
	case r = <-out:
		return r, false
	default:
		g.open()
		return <-out, true
	}
}

// The simplest form: an OnQueue hook cancels (or force-runs) the task
// itself, synchronously, as the Hooks doc allows. Submit then returns at
// once (ErrNotQueued, or nil); so does SubmitWait into a full queue, which
// waited for room for a task that had already ended (or already ran).
func TestSubmitWaitReturnsOnceAHookEndedOrForceRanItsTask(t *testing.T) {
	for _, act := range []string{"cancel", "force"} {
		t.Run(act, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var s *scheduler.Scheduler
				var g *gate
				s, g, _ = fullQueue(t, scheduler.WithHooks(scheduler.Hooks{
					OnQueue: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
						if h.Name() != "victim" {
							return
						}
						if act == "cancel" {
							h.Cancel(errBoom)
						} else {
							_ = s.Force(h)
						}
					},
				}))
				r, waiting := awaitReturn(submitWaitAsync(s, lazytask.WithName("victim")), g)
				if waiting {
					t.Errorf("SubmitWait waited for room after its OnQueue hook %s the task; once room was made it returned %v (task %v)", map[string]string{"cancel": "canceled", "force": "force-ran"}[act], r.err, r.h.State())
				} else {
					t.Logf("SubmitWait returned %v, task %v", r.err, r.h.State())
				}
			})
		})
	}
}

// A task whose carried context is canceled while SubmitWait waits for room
// ends Canceled at once, and SubmitWait returns its cause.
func TestSubmitWaitReturnsOnceItsTasksCarriedContextIsCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, g, _ := fullQueue(t)
		carried, cancel := context.WithCancelCause(context.Background())
		out := submitWaitAsync(s, lazytask.WithContext(carried))
		synctest.Wait()
		cancel(errBoom)
		r, waiting := awaitReturn(out, g)
		if waiting {
			t.Fatalf("SubmitWait still waited for room after its task's carried context was canceled; it returned only once room was made, with %v (state %v)", r.err, r.h.State())
		}
		require.ErrorIs(t, r.err, errBoom)
	})
}

// A hook's goroutine force-runs (or cancels) the task while SubmitWait
// waits for room: SubmitWait returns once it has, nil for the force-run.
func TestSubmitWaitReturnsOnceAHooksGoroutineForceRanItsTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, g, h, out := submitWaitIntoAHookedChild(t)
		require.NoError(t, s.Force(h))
		require.NoError(t, h.Wait(context.Background()))
		r, waiting := awaitReturn(out, g)
		if waiting {
			t.Fatalf("SubmitWait still waited for room after a hook's goroutine force-ran its task (it ended %v); it returned %v once room was made", h.State(), r.err)
		}
		require.NoError(t, r.err)
	})
}

func TestSubmitWaitReturnsOnceAHooksGoroutineCanceledItsTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, g, h, out := submitWaitIntoAHookedChild(t)
		require.True(t, h.Cancel(errBoom))
		r, waiting := awaitReturn(out, g)
		if waiting {
			t.Fatalf("SubmitWait still waited for room after a hook's goroutine canceled its task; it returned %v once room was made", r.err)
		}
		require.True(t, errors.Is(r.err, errBoom) || errors.Is(r.err, scheduler.ErrNotQueued), "%v", r.err)
	})
}

// submitWaitIntoAHookedChild starts a SubmitWait into a child scope of a
// full scheduler whose OnQueue hook hands the handle out, and returns the
// handle once SubmitWait waits for room.
func submitWaitIntoAHookedChild(t *testing.T) (*scheduler.Scheduler, *gate, lazytask.Handle, <-chan submitted) {
	hand := make(chan lazytask.Handle, 4)
	s, g, _ := fullQueue(t)
	sc := scChild(t, s.Root(), scheduler.WithHooks(scheduler.Hooks{
		OnQueue: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { hand <- h },
	}))
	out := submitWaitAsync(sc)
	h := <-hand
	synctest.Wait()
	return s, g, h, out
}

// SubmitWait into a child scope waits for room in the scheduler's full
// queue (full of the root's tasks); the child scope is then canceled, shut
// down, or the whole tree canceled through the base context. SubmitWait
// is refused then (ErrScopeCanceled, ErrClosed), as SubmitWait into the
// root is when the scheduler's Shutdown begins.
func TestSubmitWaitIntoAScopeThatEndsIsRefusedAtOnce(t *testing.T) {
	for _, how := range []string{"scope Cancel", "scope Shutdown", "base context canceled"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				base, cancelBase := context.WithCancelCause(context.Background())
				defer cancelBase(nil)
				s, g, _ := fullQueue(t, scheduler.WithBaseContext(base))
				sc := scChild(t, s.Root())
				out := submitWaitAsync(sc)
				synctest.Wait()
				shut := make(chan error, 1)
				switch how {
				case "scope Cancel":
					sc.Cancel(errBoom)
				case "scope Shutdown":
					go func() { shut <- sc.Shutdown(context.Background()) }()
				case "base context canceled":
					cancelBase(errBoom)
				}
				r, waiting := awaitReturn(out, g)
				if waiting {
					t.Errorf("SubmitWait into a scope that ended (%s) still waited for room; once room was made it returned %v (%v)", how, r.err, r.h.State())
				} else {
					require.True(t, errors.Is(r.err, scheduler.ErrScopeCanceled) || errors.Is(r.err, scheduler.ErrClosed), "%v", r.err)
				}
				if how == "scope Shutdown" {
					require.NoError(t, <-shut)
				}
			})
		})
	}
}
