package scheduler_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Tests of the submit inbox (inbox.go): submits behind a full root cap skip
// the lock, and must still behave as queued tasks in every respect.

// Cancel, Promote and Force reach tasks that went through the inbox.
func TestQueuedTasksBehindAFullCapCanBeCanceledPromotedAndForced(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	var log runLog
	a, err := scheduler.Submit(s, log.logged("a"))
	require.NoError(t, err)
	b, err := scheduler.Submit(s, log.logged("b"))
	require.NoError(t, err)
	c, err := scheduler.Submit(s, log.logged("c"))
	require.NoError(t, err)
	d, err := scheduler.Submit(s, log.logged("d"))
	require.NoError(t, err)

	require.True(t, b.Cancel(nil), "Cancel(b)")
	require.NoError(t, s.Promote(d), "Promote(d)")
	require.NoError(t, s.Force(c), "Force(c)")
	_, err = c.Await(bg) // runs over the cap while the holder holds the slot
	require.NoError(t, err)
	assert.Equal(t, lazytask.Queued, a.State(), "a, behind the holder")

	g.open()
	for _, h := range []*lazytask.Task[string]{a, d} {
		_, err := h.Await(bg)
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"c", "d", "a"}, log.get(), "run order")
	assert.Equal(t, lazytask.Canceled, b.State(), "b")
	st := s.Stats()
	assert.Equal(t, uint64(5), st.Submitted, "Submitted")
	assert.Equal(t, uint64(1), st.Canceled, "Canceled")
	assert.Equal(t, uint64(1), st.ForceRuns, "ForceRuns")
	assert.Equal(t, uint64(1), st.Promoted, "Promoted")
}

// Raising the cap opens the inbox's bypass: the next submit starts at once
// instead of waiting behind the task that holds the old cap.
func TestSubmitAfterResizeUpStartsWhileTheHolderHolds(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	queued, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	require.NoError(t, s.Resize(3))
	h, err := scheduler.Submit(s, func(context.Context) (int, error) { return 2, nil })
	require.NoError(t, err)
	// A stranded task would wait for g; the deadline turns that into a
	// failure instead of a hang.
	ctx, cancel := context.WithTimeout(bg, time.Minute)
	defer cancel()
	for _, x := range []*lazytask.Task[int]{queued, h} {
		_, err := x.Await(ctx)
		require.NoError(t, err, "a task admitted after Resize(3) while the holder holds one slot")
	}
	g.open()
}

// racing is what submitRacing saw.
type racing struct {
	accepted  []*lazytask.Task[int]
	refused   int
	ran, late int64
}

// submitRacing submits 800 counting tasks to sp from 4 goroutines while
// end (Shutdown, say) runs on a goroutine of its own and the gates (the
// holders of sp's slots) open; it returns once both are done. A refusal
// must be one of refusals, with its task Canceled; a task that runs after
// end has returned counts as late.
func submitRacing(t *testing.T, sp scheduler.Spawner, gates []*gate, end func(), refusals ...error) racing {
	t.Helper()
	const submitters, each = 4, 200
	var ran, late atomic.Int64
	var ended atomic.Bool
	var mu sync.Mutex
	var r racing
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range submitters {
		wg.Go(func() {
			<-start
			for range each {
				h, err := scheduler.Submit(sp, func(context.Context) (int, error) {
					ran.Add(1)
					if ended.Load() {
						late.Add(1)
					}
					return 0, nil
				})
				mu.Lock()
				switch {
				case err == nil:
					r.accepted = append(r.accepted, h)
				case slices.ContainsFunc(refusals, func(e error) bool { return errors.Is(err, e) }):
					r.refused++
					assert.Equal(t, lazytask.Canceled, h.State(), "refused task")
				default:
					t.Errorf("Submit: %v", err)
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	done := make(chan struct{})
	go func() {
		end()
		ended.Store(true)
		close(done)
	}()
	for _, g := range gates {
		g.open()
	}
	wg.Wait()
	<-done
	r.ran, r.late = ran.Load(), late.Load()
	return r
}

// Submits racing Shutdown: each one either runs, once, or is refused with
// ErrClosed and never runs; none runs after Shutdown returns; Stats agree.
func TestSubmitsRacingShutdownRunOrAreRefused(t *testing.T) {
	for round := range 20 {
		s, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithLogger(quietLogger))
		require.NoError(t, err)
		_, g := hold(t, s)
		_, g2 := hold(t, s)
		r := submitRacing(t, s, []*gate{g, g2}, func() {
			assert.NoError(t, s.Shutdown(bg), "round %d: Shutdown", round)
		}, scheduler.ErrClosed)
		for _, h := range r.accepted {
			_, err := h.Await(bg)
			require.NoError(t, err, "round %d: an accepted task", round)
		}
		require.Equal(t, 800, len(r.accepted)+r.refused, "round %d", round)
		require.Equal(t, int64(len(r.accepted)), r.ran, "round %d: accepted tasks that ran", round)
		require.Zero(t, r.late, "round %d: tasks that ran after Shutdown returned", round)
		require.Equal(t, uint64(len(r.accepted)+2), s.Stats().Submitted, "round %d: Stats().Submitted", round)
	}
}

// A hook that cancels the task it sees is honoured on the inbox path too.
func TestTaskCanceledByItsQueueHookBehindAFullCapNeverRuns(t *testing.T) {
	var cancelNext atomic.Bool
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnQueue: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			if cancelNext.Load() {
				h.Cancel(nil)
			}
		},
	}))
	_, g := hold(t, s)
	cancelNext.Store(true)
	var runs atomic.Int32
	h, err := scheduler.Submit(s, counted(&runs))
	require.ErrorIs(t, err, scheduler.ErrNotQueued, "Submit of a task its hook canceled")
	g.open()
	require.NoError(t, s.Shutdown(bg))
	assert.Equal(t, lazytask.Canceled, h.State(), "State()")
	assert.Zero(t, runs.Load(), "runs")
}

// Submits to a child scope racing its Shutdown or Cancel: each one runs
// once, or is refused (ErrClosed, ErrScopeCanceled) and never runs, or, for
// Cancel, ends Canceled without running; nothing runs after the call
// returns.
func TestChildScopeSubmitsRacingItsEnd(t *testing.T) {
	for _, how := range []string{"shutdown", "cancel"} {
		for round := range 10 {
			s := startScheduler(t, scheduler.WithLimit(2))
			_, g := hold(t, s)
			_, g2 := hold(t, s)
			sc, err := s.Root().NewScope()
			require.NoError(t, err)
			r := submitRacing(t, sc, []*gate{g, g2}, func() {
				if how == "shutdown" {
					assert.NoError(t, sc.Shutdown(bg))
				} else {
					sc.Cancel(nil)
					assert.NoError(t, sc.Wait(bg))
				}
			}, scheduler.ErrClosed, scheduler.ErrScopeCanceled)
			var canceled int64
			for _, h := range r.accepted {
				_, err := h.Await(bg)
				if how == "shutdown" {
					require.NoError(t, err, "%s round %d: an accepted task", how, round)
				} else if err != nil {
					require.Equal(t, lazytask.Canceled, h.State(), "%s round %d", how, round)
					canceled++
				}
			}
			require.Equal(t, int64(len(r.accepted))-canceled, r.ran, "%s round %d: accepted tasks that ran", how, round)
			require.Zero(t, r.late, "%s round %d: tasks that ran after the scope ended", how, round)
		}
	}
}

// Hooks see a task before its handoff and may hand it to other goroutines.
// Those may cancel, start, promote or force it while the submit's push
// races the scope being canceled (which seals its inbox): nothing may
// crash or hang, and every task ends.
func TestHandlesLeakedByHooksRacingAScopesCancel(t *testing.T) {
	for round := range 30 {
		var wg sync.WaitGroup
		var s *scheduler.Scheduler
		s = startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
			OnQueue: func(_ context.Context, in *scheduler.Scope, h lazytask.Handle) {
				if in == s.Root() {
					return // the holder
				}
				wg.Go(func() {
					switch round % 4 {
					case 0:
						h.Cancel(nil)
					case 1:
						_ = h.Start()
					case 2:
						_ = s.Promote(h)
					default:
						_ = s.Force(h)
					}
				})
			},
		}))
		_, g := hold(t, s)
		sc, err := s.Root().NewScope()
		require.NoError(t, err)
		var hs []*lazytask.Task[int]
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range 50 {
				h, _ := scheduler.Submit(sc, func(context.Context) (int, error) { return 1, nil })
				hs = append(hs, h)
			}
		}()
		sc.Cancel(nil)
		<-done
		wg.Wait()
		g.open()
		ctx, cancel := context.WithTimeout(bg, time.Minute)
		for i, h := range hs {
			if err := h.Wait(ctx); err != nil {
				// Wait returns the task's error; only ctx's end is a hang.
				require.False(t, errors.Is(ctx.Err(), context.DeadlineExceeded), "round %d: task %d never ended (%v)", round, i, h.State())
			}
			require.True(t, h.State().Terminal(), "round %d: task %d is %v", round, i, h.State())
		}
		cancel()
		require.NoError(t, s.Shutdown(bg), "round %d", round)
	}
}

// A submit makes and queues its task in one call, hooks or not, inbox or
// lock: the task's queued time is its creation time.
func TestSubmittedTasksAreQueuedWhenCreated(t *testing.T) {
	for _, hooked := range []bool{false, true} {
		var opts []scheduler.SchedulerOption
		if hooked {
			opts = append(opts, scheduler.WithHooks(scheduler.Hooks{OnQueue: func(context.Context, *scheduler.Scope, lazytask.Handle) {}}))
		}
		s := startScheduler(t, append(opts, scheduler.WithLimit(1), scheduler.WithTimings())...)
		locked, err := scheduler.Submit(s, func(context.Context) (int, error) { return 0, nil })
		require.NoError(t, err)
		_, err = locked.Await(bg)
		require.NoError(t, err)
		_, g := hold(t, s)
		inbox, err := scheduler.Submit(s, func(context.Context) (int, error) { return 0, nil })
		require.NoError(t, err)
		for name, h := range map[string]*lazytask.Task[int]{"first": locked, "behind the holder": inbox} {
			tm := h.Timings()
			assert.False(t, tm.Queued.IsZero(), "hooked %v, %s: queued time", hooked, name)
			assert.True(t, tm.Queued.Equal(tm.Created), "hooked %v, %s: queued %v, created %v", hooked, name, tm.Queued, tm.Created)
		}
		g.open()
	}
}
