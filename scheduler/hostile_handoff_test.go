package scheduler_test

// Handoffs that a hook, or a goroutine it gave the handle to, acts on: a
// force-run during NewTask's bind or during SubmitWait's wait for room, and
// a scope canceled while SubmitWait is between two looks at the queue
// (found by a hostile review).

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A goroutine an OnQueue hook gave the handle to force-runs the task
// while SubmitWait waits for room in the full bounded queue. The task is no
// longer Lazy: SubmitWait should return (nil: the task runs) at once, not
// only once the forced task has ended. Here the forced task waits for its
// submitter to have returned, so SubmitWait never returns until room is made.
func TestSubmitWaitReturnsWhileItsForceRunTaskStillRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hand := make(chan lazytask.Handle, 1)
		s, g, _ := fullQueue(t)
		sc := scChild(t, s.Root(), scheduler.WithHooks(scheduler.Hooks{
			OnQueue: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { hand <- h },
		}))
		returned := make(chan struct{})
		out := make(chan submitted, 1)
		go func() {
			h, err := scheduler.SubmitWait(bg, sc, func(ctx context.Context) (int, error) {
				select {
				case <-returned: // the submitter has its handle back
				case <-ctx.Done():
				}
				return 1, nil
			})
			out <- submitted{h, err}
		}()
		h := <-hand
		synctest.Wait() // SubmitWait waits for room
		require.NoError(t, sc.Force(h))
		synctest.Wait()
		select {
		case r := <-out:
			close(returned)
			require.NoError(t, r.err)
			require.NoError(t, h.Wait(bg))
		default:
			g.open() // make room: only then does SubmitWait look again
			r := <-out
			close(returned)
			t.Fatalf("SubmitWait kept waiting for queue room while its task ran force-run (%v); it returned %v only once room was made", h.State(), r.err)
		}
	})
}

// SubmitWait into a child scope of a full bounded queue, while the
// child scope is canceled. The cancel wakes the room waiters
// (wakeRoomLocked), but a SubmitWait that was refused with ErrQueueFull
// just before the cancel and makes its room channel just after it misses
// that wake: it then waits for room, for ever with no deadline, in a scope
// that was canceled. Run many times: the window is between enqueue's unlock
// and enqueueWait's next lock; a goroutine taking the lock in a loop
// (Stats) widens it.
func TestSubmitWaitIntoAScopeCanceledMeanwhileIsNotLeftWaiting(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 50
	}
	misses := 0
	for i := 0; i < n && misses == 0; i++ {
		synctest.Test(t, func(t *testing.T) {
			s, g, _ := fullQueue(t)
			defer g.open()
			queuing := make(chan struct{})
			sc := scChild(t, s.Root(), scheduler.WithHooks(scheduler.Hooks{
				OnQueue: func(context.Context, *scheduler.Scope, lazytask.Handle) { close(queuing) },
			}))
			out := make(chan submitted, 1)
			stop := make(chan struct{})
			hammered := make(chan struct{})
			go func() {
				defer close(hammered)
				for {
					select {
					case <-stop:
						return
					default:
						_ = s.Stats()
					}
				}
			}()
			go func() {
				h, err := scheduler.SubmitWait(bg, sc, func(context.Context) (int, error) { return 1, nil })
				out <- submitted{h, err}
			}()
			<-queuing // SubmitWait is about to try the queue
			for range i % 64 {
				runtime.Gosched()
			}
			sc.Cancel(errBoom)
			close(stop)
			<-hammered
			synctest.Wait()
			select {
			case r := <-out:
				require.ErrorIs(t, r.err, scheduler.ErrScopeCanceled)
			default:
				misses++
				g.open()
				r := <-out
				t.Errorf("round %d: SubmitWait into a canceled scope kept waiting for queue room; it returned %v only once room was made (task %v)", i, r.err, r.h.State())
			}
		})
	}
}

// An OnCreate hook force-runs the task NewTask is making, with the
// scope it is given, as the Hooks doc allows (sc.Force(h)). NewTask's bind
// then finds the task Running; core.BindLazy, which stores the owner
// before it looks at the state, stores nil over the owner the force-run
// gave it. The running task has no owner any more: its end frees no slot
// and is counted nowhere (Stats keep it Running and over the cap, and
// Shutdown waits for it for ever), NewTask counts it again as refused, and
// with an OnStart hook the start dereferences the nil owner.
func TestNewTaskForceRunByItsOnCreateHookKeepsItsOwner(t *testing.T) {
	for _, withStart := range []bool{false, true} {
		name := "no start hook"
		if withStart {
			name = "start hook"
		}
		t.Run(name, func(t *testing.T) {
			release := make(chan struct{})
			hooks := scheduler.Hooks{
				OnCreate: func(_ context.Context, sc *scheduler.Scope, h lazytask.Handle) {
					require.NoError(t, sc.Force(h))
				},
			}
			if withStart {
				hooks.OnStart = func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) context.Context { return ctx }
			}
			// Not startScheduler: its cleanup's Shutdown, with no deadline,
			// would hang on the task that lost its owner.
			s, err := scheduler.New(scheduler.WithLogger(quietLogger), scheduler.WithLimit(1), scheduler.WithHooks(hooks))
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(bg, 5*time.Second) // a bound on the hang, not a synchronisation
			defer cancel()
			h := scheduler.NewTask(s, func(context.Context) (int, error) {
				<-release
				return 7, nil
			})
			close(release)
			v, err := h.Await(ctx)
			require.NoError(t, err)
			require.Equal(t, 7, v)
			if err := s.Wait(ctx); err != nil {
				// Shutdown would wait for ever too: the scheduler is left.
				t.Fatalf("Wait after the forced task ended: %v; Stats %+v", err, s.Stats())
			}
			defer func() { assert.NoError(t, s.Shutdown(ctx), "Shutdown") }()
			st := s.Stats()
			assert.Equal(t, [4]uint64{1, 1, 0, 1}, [4]uint64{st.Created, st.Succeeded, st.Rejected, st.ForceRuns}, "Created, Succeeded, Rejected, ForceRuns: %+v", st)
			assert.Zero(t, st.Running+st.OverCap, "Running, OverCap after the end: %+v", st)
		})
	}
}
