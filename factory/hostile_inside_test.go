package factory_test

// Hostile tests of the combinators used from inside tasks of a scheduler
// (invariant I9: the waits lend the calling task's slot), modelled on
// asyncio (gather, wait_for, as_completed, TaskGroup), Trio (nurseries,
// cancel scopes, move_on_after) and Kotlin (structured concurrency,
// withTimeout, lazy start, awaitAll). Every wait is bounded by a hang guard;
// no test relies on timing to pass.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

const hiHang = 10 * time.Second

// hiOuter runs body as a task of s and waits for it, failing the test if it
// does not end within hiHang. It returns the task's handle and error.
func hiOuter(t *testing.T, s *scheduler.Scheduler, body func(ctx context.Context) error) (*lazytask.Task[struct{}], error) {
	t.Helper()
	h, err := scheduler.Go(s, body, lazytask.WithName("outer"))
	require.NoError(t, err, "Go(outer)")
	select {
	case <-h.Done():
	case <-time.After(hiHang):
		t.Fatalf("outer task still %v after %v: a hang (stats %+v)", h.State(), hiHang, s.Stats())
	}
	return h, h.Err()
}

// hiIdle waits for s to have nothing running or queued, and checks the
// slot accounting is back to zero.
func hiIdle(t *testing.T, s *scheduler.Scheduler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg, hiHang)
	defer cancel()
	require.NoError(t, s.Wait(ctx), "s.Wait: everything ends")
	st := s.Stats()
	assert.Equal(t, 0, st.InUse, "Stats().InUse at the end")
	assert.Equal(t, 0, st.OverCap, "Stats().OverCap at the end")
	assert.Equal(t, 0, st.OverCapSlots, "Stats().OverCapSlots at the end")
	assert.Equal(t, 0, st.Running, "Stats().Running at the end")
	assert.Equal(t, 0, st.Queued, "Stats().Queued at the end")
	assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected+uint64(st.Lazy),
		"Created = Succeeded+Failed+Canceled+Rejected+Lazy once idle: %+v", st)
}

// hiProbe counts the task bodies running their own code at once, and the
// largest OverCap and InUse seen from inside them.
type hiProbe struct {
	s                          *scheduler.Scheduler
	mu                         sync.Mutex
	now, peak, maxOver, maxUse int
}

func (p *hiProbe) enter() {
	st := p.s.Stats()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now++
	p.peak = max(p.peak, p.now)
	p.maxOver = max(p.maxOver, st.OverCap)
	p.maxUse = max(p.maxUse, st.InUse)
}

func (p *hiProbe) exit() {
	p.mu.Lock()
	p.now--
	p.mu.Unlock()
}

func (p *hiProbe) check(t *testing.T, limit int) { t.Helper(); p.checkOver(t, limit, 0) }

// checkOver is check where up to over tasks may be seen running over the
// cap, counted: a combinator's caller whose wait one of several tasks in
// flight ended goes on over the cap until its next wait (ReclaimGate).
func (p *hiProbe) checkOver(t *testing.T, limit, over int) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	assert.LessOrEqual(t, p.peak, limit, "leaf bodies running at once")
	assert.LessOrEqual(t, p.maxOver, over, "peak Stats().OverCap seen inside tasks")
	assert.LessOrEqual(t, p.maxUse, limit, "peak Stats().InUse seen inside tasks")
}

func (p *hiProbe) leaf(v int) func(context.Context) (int, error) {
	return func(context.Context) (int, error) {
		p.enter()
		defer p.exit()
		return v, nil
	}
}

// --- Gather (asyncio.gather, Kotlin awaitAll) ---------------------------

// Nested gathers three deep from inside a task, at cap 1 and 2: no
// deadlock, leaves never exceed the cap, nothing over the cap.
func TestHostileNestedGatherInsideKeepsTheCap(t *testing.T) {
	for _, limit := range []int{1, 2} {
		t.Run(fmt.Sprint("cap", limit), func(t *testing.T) {
			s := newScheduler(t, scheduler.WithLimit(limit))
			p := &hiProbe{s: s}
			mid := func(base int) func(context.Context) (int, error) {
				return func(ctx context.Context) (int, error) {
					vs, err := factory.Gather(ctx, s, p.leaf(base), p.leaf(base+1), p.leaf(base+2))
					return vs[0] + vs[1] + vs[2], err
				}
			}
			var got []int
			_, err := hiOuter(t, s, func(ctx context.Context) error {
				var err error
				got, err = factory.Gather(ctx, s, mid(0), mid(10), mid(20), mid(30))
				return err
			})
			require.NoError(t, err)
			assert.Equal(t, []int{3, 33, 63, 93}, got)
			// A gather woken by one leaf's end while its slot went to the
			// queue (its Release came before the gather lent again, the
			// callback after) goes on over the cap, counted, to receive
			// again (ReclaimGate); no leaf runs over it. Seen from a leaf
			// about 1 run in 100 at cap 2, never at cap 1.
			p.checkOver(t, limit, limit-1)
			assert.Equal(t, uint64(0), s.Stats().ForceRuns, "ForceRuns")
			hiIdle(t, s)
		})
	}
}

// asyncio.wait_for(gather(...)): the first child cuts the gather's context
// short while it holds the only slot, then blocks on its own context. The
// others are queued and must never run (I4); Gather returns the cause
// for every task; afterwards the outer task is back within the cap.
func TestHostileGatherCutShortByAChildAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var ran [3]atomic.Bool
	var vals []int
	var gerr error
	var after scheduler.Stats
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		fns := []func(context.Context) (int, error){
			func(cctx context.Context) (int, error) {
				ran[0].Store(true)
				cut()
				<-cctx.Done()
				return 7, context.Cause(cctx)
			},
			func(context.Context) (int, error) { ran[1].Store(true); return 1, nil },
			func(context.Context) (int, error) { ran[2].Store(true); return 2, nil },
		}
		vals, gerr = factory.Gather(wctx, s, fns...)
		after = s.Stats()
		return nil
	})
	require.NoError(t, err)
	require.Error(t, gerr)
	assert.ErrorIs(t, gerr, context.Canceled)
	assert.Equal(t, []int{0, 0, 0}, vals, "values of canceled tasks are zero")
	assert.True(t, ran[0].Load())
	assert.False(t, ran[1].Load(), "queued task 1 ran after the gather was cut short")
	assert.False(t, ran[2].Load(), "queued task 2 ran after the gather was cut short")
	assert.Equal(t, 0, after.OverCap, "OverCap once Gather returned (it waited for its tasks)")
	assert.Equal(t, 1, after.InUse, "InUse once Gather returned: the outer task's slot")
	hiIdle(t, s)
}

// Trio: canceling the enclosing task (its cancel scope) while it gathers.
// A child cancels the outer task with a cause; Gather returns that cause;
// the outer task ends Canceled; nothing is left running.
func TestHostileGatherWhileTheOuterTaskIsCanceledAtCapOne(t *testing.T) {
	for _, limit := range []int{1, 2} {
		t.Run(fmt.Sprint("cap", limit), func(t *testing.T) {
			s := newScheduler(t, scheduler.WithLimit(limit))
			stop := errors.New("stop the outer task")
			var gerr error
			h, err := hiOuter(t, s, func(ctx context.Context) error {
				me := lazytask.HandleOf(ctx)
				fns := []func(context.Context) (int, error){
					func(cctx context.Context) (int, error) {
						me.Cancel(stop)
						<-cctx.Done()
						return 0, context.Cause(cctx)
					},
					func(cctx context.Context) (int, error) { <-cctx.Done(); return 0, context.Cause(cctx) },
					func(context.Context) (int, error) { return 3, nil },
				}
				_, gerr = factory.Gather(ctx, s, fns...)
				return gerr
			})
			assert.ErrorIs(t, gerr, stop, "Gather's error")
			assert.ErrorIs(t, err, stop, "the outer task's error")
			assert.Equal(t, lazytask.Canceled, h.State(), "the outer task's state")
			hiIdle(t, s)
		})
	}
}

// A child that panics: Gather reports a *PanicError among the errors, the
// siblings' values are kept, no panic escapes into the outer task.
func TestHostileGatherChildPanicsInside(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var vals []int
	var gerr error
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		vals, gerr = factory.Gather(ctx, s,
			func(context.Context) (int, error) { return 1, nil },
			func(context.Context) (int, error) { panic("boom") },
			func(context.Context) (int, error) { return 3, nil },
		)
		return nil
	})
	require.NoError(t, err, "the outer task")
	var pe *lazytask.PanicError
	assert.ErrorAs(t, gerr, &pe, "Gather's error carries the panic")
	assert.Equal(t, []int{1, 0, 3}, vals)
	hiIdle(t, s)
}

// Nil functions and empty inputs from inside a task: ErrNilFunc for the
// nil one, the others run; no function at all returns at once.
func TestHostileGatherNilAndEmptyInside(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var vals, none []int
	var gerr, nerr error
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		vals, gerr = factory.Gather(ctx, s, nil, func(context.Context) (int, error) { return 2, nil })
		none, nerr = factory.Gather[int](ctx, s)
		return nil
	})
	require.NoError(t, err)
	assert.ErrorIs(t, gerr, lazytask.ErrNilFunc)
	assert.Equal(t, []int{0, 2}, vals)
	assert.NoError(t, nerr)
	assert.Empty(t, none)
	hiIdle(t, s)
}

// --- Race (Trio's first-wins nursery, Kotlin select) --------------------

// At cap 1 the first task fails, the second wins, the third is queued
// and blocks until canceled. The docs allow the third to run (the winner
// is known only once its OnDone reached Race), but then it must see
// ErrNotNeeded and Race must not hang. Repeated: the order of the winner's
// OnDone and Race's next wait is up to the runtime.
// Hung before the combinators' waits used a core.Gate: the winner's slot goes back to the
// outer task (its Reclaim is first in line), which, before the winner's
// OnDone has sent its index, waits again in glue.Recv and lends the slot
// to the third task; once the index comes, its Reclaim waits for the third
// task, which waits for Race to cancel it.
func TestHostileRaceInsideCapOneLoserQueuedBehindWinner(t *testing.T) {
	for round := range 30 {
		s := newScheduler(t, scheduler.WithLimit(1))
		var ran3 atomic.Bool
		cause3 := make(chan error, 1)
		var v int
		var rerr error
		_, err := hiOuter(t, s, func(ctx context.Context) error {
			v, rerr = factory.Race(ctx, s,
				func(context.Context) (int, error) { return 0, errors.New("first fails") },
				func(context.Context) (int, error) { return 2, nil },
				func(cctx context.Context) (int, error) {
					ran3.Store(true)
					<-cctx.Done()
					cause3 <- context.Cause(cctx)
					return 3, context.Cause(cctx)
				},
			)
			return nil
		})
		require.NoError(t, err, "round %d", round)
		require.NoError(t, rerr, "round %d", round)
		require.Equal(t, 2, v, "round %d", round)
		if ran3.Load() {
			require.ErrorIs(t, <-cause3, factory.ErrNotNeeded, "round %d: the loser's cause", round)
		}
		hiIdle(t, s)
	}
}

// At cap 2 a running loser sees ErrNotNeeded as its context's cause, and
// Race returns only once it ended.
func TestHostileRaceInsideCapTwoLoserSeesErrNotNeeded(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	loserCause := make(chan error, 1)
	started := make(chan struct{})
	var v int
	var rerr error
	var loserEnded bool
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		v, rerr = factory.Race(ctx, s,
			func(cctx context.Context) (int, error) {
				close(started)
				<-cctx.Done()
				loserCause <- context.Cause(cctx)
				return 0, context.Cause(cctx)
			},
			func(context.Context) (int, error) { <-started; return 5, nil },
		)
		select {
		case <-loserCause:
			loserEnded = true
		default:
		}
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, rerr)
	assert.Equal(t, 5, v)
	assert.True(t, loserEnded, "Race returned before its loser ended")
	hiIdle(t, s)
}

// move_on_after around a race: cut short by the first runner at cap 1
// while it holds the slot; the second never runs; Race returns the cause.
func TestHostileRaceCutShortAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var ran2 atomic.Bool
	var rerr error
	var after scheduler.Stats
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		_, rerr = factory.Race(wctx, s,
			func(cctx context.Context) (int, error) { cut(); <-cctx.Done(); return 0, context.Cause(cctx) },
			func(context.Context) (int, error) { ran2.Store(true); return 2, nil },
		)
		after = s.Stats()
		return nil
	})
	require.NoError(t, err)
	assert.ErrorIs(t, rerr, context.Canceled)
	assert.False(t, ran2.Load(), "a queued racer ran after the race was cut short")
	assert.Equal(t, 0, after.OverCap, "OverCap after Race returned")
	hiIdle(t, s)
}

// Race with no function, with only nil functions, and with a panicking
// one next to a winner, from inside a task.
func TestHostileRaceEdgeInputsInside(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var e0, e1, e2 error
	var v2 int
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		_, e0 = factory.Race[int](ctx, s)
		_, e1 = factory.Race[int](ctx, s, nil, nil)
		v2, e2 = factory.Race(ctx, s,
			func(context.Context) (int, error) { panic("racer panics") },
			func(context.Context) (int, error) { return 9, nil })
		return nil
	})
	require.NoError(t, err, "no panic escapes into the outer task")
	assert.ErrorIs(t, e0, factory.ErrNoFuncs)
	assert.ErrorIs(t, e1, lazytask.ErrNilFunc)
	assert.NoError(t, e2)
	assert.Equal(t, 9, v2)
	hiIdle(t, s)
}

// --- Map (asyncio.Semaphore + gather, Kotlin flatMapMerge) ---------------

// Map inside a task, nested in Gather, at cap 1 and 2, with limit larger
// and smaller than the cap.
func TestHostileMapInsideKeepsTheCap(t *testing.T) {
	for _, limit := range []int{1, 2} {
		for _, mlimit := range []int{1, 3} {
			t.Run(fmt.Sprintf("cap%d/limit%d", limit, mlimit), func(t *testing.T) {
				s := newScheduler(t, scheduler.WithLimit(limit))
				p := &hiProbe{s: s}
				in := []int{1, 2, 3, 4, 5, 6, 7}
				var out []int
				_, err := hiOuter(t, s, func(ctx context.Context) error {
					var err error
					out, err = factory.Map(ctx, s, in, mlimit, func(ctx context.Context, v int) (int, error) {
						return p.leaf(v * v)(ctx)
					})
					return err
				})
				require.NoError(t, err)
				assert.Equal(t, []int{1, 4, 9, 16, 25, 36, 49}, out)
				// With calls in flight beside the one that ended, Map's
				// own code goes on over the cap, counted, to submit the
				// next call: seen from a leaf now and then (2-7 runs in
				// 100 at cap 2, limit 3), never more than that one.
				p.checkOver(t, limit, min(mlimit-1, 1))
				hiIdle(t, s)
			})
		}
	}
}

// Map cut short while its first call holds the only slot: calls not yet
// submitted never run and get the cause, calls in flight are canceled.
func TestHostileMapCutShortAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var ran [6]atomic.Bool
	var out []int
	var merr error
	var after scheduler.Stats
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		out, merr = factory.Map(wctx, s, []int{0, 1, 2, 3, 4, 5}, 2, func(cctx context.Context, v int) (int, error) {
			ran[v].Store(true)
			if v == 0 {
				cut()
				<-cctx.Done()
				return 0, context.Cause(cctx)
			}
			return v, nil
		})
		after = s.Stats()
		return nil
	})
	require.NoError(t, err)
	assert.ErrorIs(t, merr, context.Canceled)
	assert.Equal(t, make([]int, 6), out)
	for i := 1; i < 6; i++ {
		assert.False(t, ran[i].Load(), "call %d ran after Map was cut short", i)
	}
	assert.Equal(t, 0, after.OverCap, "OverCap after Map returned")
	hiIdle(t, s)
}

// Map's bad inputs from inside a task.
func TestHostileMapBadInputsInside(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var e0, e1, e2 error
	var o2 []int
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		_, e0 = factory.Map(ctx, s, []int{1}, 0, func(context.Context, int) (int, error) { return 0, nil })
		_, e1 = factory.Map[int, int](ctx, s, []int{1}, 1, nil)
		o2, e2 = factory.Map(ctx, s, nil, 1, func(context.Context, int) (int, error) { return 0, nil })
		return nil
	})
	require.NoError(t, err)
	assert.ErrorIs(t, e0, scheduler.ErrInvalidLimit)
	assert.ErrorIs(t, e1, lazytask.ErrNilFunc)
	assert.NoError(t, e2)
	assert.Empty(t, o2)
	hiIdle(t, s)
}

// Canceling the outer task while Map waits: every call's error is the
// cause, the outer task ends Canceled.
func TestHostileMapWhileTheOuterTaskIsCanceled(t *testing.T) {
	for _, limit := range []int{1, 2} {
		t.Run(fmt.Sprint("cap", limit), func(t *testing.T) {
			s := newScheduler(t, scheduler.WithLimit(limit))
			stop := errors.New("stop")
			var merr error
			var calls atomic.Int32
			h, _ := hiOuter(t, s, func(ctx context.Context) error {
				me := lazytask.HandleOf(ctx)
				_, merr = factory.Map(ctx, s, []int{0, 1, 2, 3, 4}, 3, func(cctx context.Context, v int) (int, error) {
					calls.Add(1)
					if v == 0 {
						me.Cancel(stop)
					}
					<-cctx.Done()
					return 0, context.Cause(cctx)
				})
				return merr
			})
			assert.ErrorIs(t, merr, stop)
			assert.Equal(t, lazytask.Canceled, h.State())
			assert.LessOrEqual(t, calls.Load(), int32(3), "calls beyond Map's limit ran")
			hiIdle(t, s)
		})
	}
}

// --- AsCompleted (asyncio.as_completed) ---------------------------------

// Hung before core.Gate (the cause of TestHostileRaceWinnerFirstLoserBlocksAtCapOne)
// at cap 1 and 2. The first task ends, its slot goes to a queued body that
// blocks until canceled, and the outer task never gets back from the wait
// (its Reclaim waits for that slot) to break and cancel the rest.
// Breaking out of AsCompleted at cap 1 inside a task: the loop statement
// returns after the rest ended; queued ones never ran; a running one saw
// ErrNotNeeded.
func TestHostileAsCompletedBreakEarlyInside(t *testing.T) {
	for _, limit := range []int{1, 2} {
		t.Run(fmt.Sprint("cap", limit), func(t *testing.T) {
			s := newScheduler(t, scheduler.WithLimit(limit))
			var ranAfter atomic.Int32
			causes := make(chan error, 4)
			var first int
			var after scheduler.Stats
			_, err := hiOuter(t, s, func(ctx context.Context) error {
				fns := []func(context.Context) (int, error){
					func(context.Context) (int, error) { return 100, nil },
				}
				for range 4 {
					fns = append(fns, func(cctx context.Context) (int, error) {
						ranAfter.Add(1)
						<-cctx.Done()
						causes <- context.Cause(cctx)
						return 0, context.Cause(cctx)
					})
				}
				for i, r := range factory.AsCompleted(ctx, s, fns...) {
					if r.Err != nil {
						return fmt.Errorf("index %d: %w", i, r.Err)
					}
					first = r.Value
					break
				}
				after = s.Stats()
				return nil
			})
			require.NoError(t, err)
			assert.Equal(t, 100, first)
			close(causes)
			n := 0
			for c := range causes {
				n++
				assert.ErrorIs(t, c, factory.ErrNotNeeded)
			}
			assert.Equal(t, int(ranAfter.Load()), n, "every body that ran ended before the loop returned")
			assert.LessOrEqual(t, int(ranAfter.Load()), limit, "bodies ran beyond the cap")
			assert.Equal(t, 0, after.OverCap, "OverCap after the loop")
			hiIdle(t, s)
		})
	}
}

// AsCompleted cut short by a running child at cap 1: every index is still
// yielded exactly once, each with the cause; the queued ones never ran.
func TestHostileAsCompletedCutShortAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var ran [3]atomic.Bool
	seen := map[int]error{}
	var after scheduler.Stats
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		fns := []func(context.Context) (int, error){
			func(cctx context.Context) (int, error) {
				ran[0].Store(true)
				cut()
				<-cctx.Done()
				return 0, context.Cause(cctx)
			},
			func(context.Context) (int, error) { ran[1].Store(true); return 1, nil },
			func(context.Context) (int, error) { ran[2].Store(true); return 2, nil },
		}
		for i, r := range factory.AsCompleted(wctx, s, fns...) {
			if _, dup := seen[i]; dup {
				return fmt.Errorf("index %d yielded twice", i)
			}
			seen[i] = r.Err
		}
		after = s.Stats()
		return nil
	})
	require.NoError(t, err)
	require.Len(t, seen, 3)
	for i, e := range seen {
		assert.ErrorIs(t, e, context.Canceled, "index %d", i)
	}
	assert.False(t, ran[1].Load())
	assert.False(t, ran[2].Load())
	assert.Equal(t, 0, after.OverCap)
	hiIdle(t, s)
}

// Hung before core.Gate (the same cause) at cap 1 before the loop body ran.
// A panic in the loop body of AsCompleted inside a task: the tasks left are
// canceled and ended before the panic leaves the loop; the outer task ends
// Failed with a *PanicError; nothing leaks.
func TestHostileAsCompletedLoopBodyPanicsInside(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var blocked atomic.Int32
	h, err := hiOuter(t, s, func(ctx context.Context) error {
		fns := []func(context.Context) (int, error){
			func(context.Context) (int, error) { return 1, nil },
			func(cctx context.Context) (int, error) { blocked.Add(1); <-cctx.Done(); return 0, context.Cause(cctx) },
			func(cctx context.Context) (int, error) { blocked.Add(1); <-cctx.Done(); return 0, context.Cause(cctx) },
		}
		for range factory.AsCompleted(ctx, s, fns...) {
			panic("loop body panics")
		}
		return nil
	})
	var pe *lazytask.PanicError
	assert.ErrorAs(t, err, &pe, "the outer task's error")
	assert.Equal(t, lazytask.Failed, h.State())
	hiIdle(t, s)
}

// AsCompleted with nil functions and none, inside a task.
func TestHostileAsCompletedNilAndEmptyInside(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	got := map[int]Result{}
	n := 0
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		for i, r := range factory.AsCompleted(ctx, s, nil, func(context.Context) (int, error) { return 4, nil }) {
			got[i] = Result{r.Value, r.Err}
		}
		for range factory.AsCompleted[int](ctx, s) {
			n++
		}
		return nil
	})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.ErrorIs(t, got[0].err, lazytask.ErrNilFunc)
	assert.Equal(t, Result{4, nil}, got[1])
	assert.Equal(t, 0, n)
	hiIdle(t, s)
}

// Result is a local pair for comparisons.
type Result struct {
	v   int
	err error
}

// Looping twice over one AsCompleted sequence inside a task runs the tasks
// twice (documented), each time ending everything.
func TestHostileAsCompletedTwiceInside(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var runs atomic.Int32
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		seq := factory.AsCompleted(ctx, s,
			func(context.Context) (int, error) { runs.Add(1); return 1, nil },
			func(context.Context) (int, error) { runs.Add(1); return 2, nil })
		for range seq {
		}
		for range seq {
			break
		}
		return nil
	})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, runs.Load(), int32(3))
	hiIdle(t, s)
}

// --- Completed (asyncio.as_completed over existing tasks) ---------------

// Completed inside a task at cap 1 over tasks the task submitted: every
// one is yielded, the wait lends the slot.
func TestHostileCompletedInsideCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	p := &hiProbe{s: s}
	var got []int
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		var ts []*lazytask.Task[int]
		for i := range 4 {
			h, err := factory.Submit(s, p.leaf(i))
			if err != nil {
				return err
			}
			ts = append(ts, h, nil)
		}
		for h := range factory.Completed(ctx, ts...) {
			v, err := h.Result()
			if err != nil {
				return err
			}
			got = append(got, v)
		}
		return nil
	})
	require.NoError(t, err)
	assert.ElementsMatch(t, []int{0, 1, 2, 3}, got)
	p.check(t, 1)
	hiIdle(t, s)
}

// Completed cut short by a running child at cap 1 (Kotlin withTimeout,
// then cancel the stragglers): the sequence stops, the outer task goes on
// (over the cap, counted, while the child holds the slot), cancels the
// stragglers, and is back within the cap once they ended.
func TestHostileCompletedCutShortThenCancelStragglersAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var ran1 atomic.Bool
	var yielded int
	var mid, after scheduler.Stats
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		c0, err := factory.Go(s, func(cctx context.Context) error { cut(); <-cctx.Done(); return context.Cause(cctx) })
		if err != nil {
			return err
		}
		c1, err := factory.Go(s, func(context.Context) error { ran1.Store(true); return nil })
		if err != nil {
			return err
		}
		for range factory.Completed(wctx, c0, c1) {
			yielded++
		}
		mid = s.Stats()
		c0.Cancel(nil)
		c1.Cancel(nil)
		for _, c := range []*lazytask.Task[struct{}]{c0, c1} {
			if err := c.Wait(ctx); !errors.Is(err, context.Canceled) {
				return fmt.Errorf("straggler: %v; want context.Canceled", err)
			}
		}
		after = s.Stats()
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 0, yielded)
	assert.False(t, ran1.Load(), "the queued straggler ran")
	assert.LessOrEqual(t, mid.OverCap, 1, "OverCap while the child holds the slot")
	assert.LessOrEqual(t, mid.InUse, 1)
	assert.Equal(t, 0, after.OverCap, "OverCap once the stragglers ended")
	assert.Equal(t, 1, after.InUse, "InUse once the stragglers ended: the outer's slot")
	hiIdle(t, s)
}

// Breaking out of Completed leaves the rest alone (documented): they
// still end on their own, and nothing leaks.
func TestHostileCompletedBreakLeavesTheRestInside(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	gate := newGate(t)
	var rest *lazytask.Task[int]
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		a, _ := factory.Submit(s, func(context.Context) (int, error) { return 1, nil })
		rest, _ = factory.Submit(s, func(context.Context) (int, error) { gate.wait(); return 2, nil })
		for h := range factory.Completed(ctx, a, rest) {
			if h != a {
				return fmt.Errorf("the gated task ended first")
			}
			break
		}
		return nil
	})
	require.NoError(t, err)
	assert.False(t, rest.State().Terminal(), "Completed canceled a task on break")
	gate.open()
	v, err := rest.Await(bounded(t))
	require.NoError(t, err)
	assert.Equal(t, 2, v)
	hiIdle(t, s)
}

// A Lazy task in Completed: the sequence waits for something else to
// start it; here the outer task's child starts it (Kotlin's lazy start).
func TestHostileCompletedLazyStartedByAChildInside(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	lazy := lazytask.New(func(context.Context) (int, error) { return 8, nil })
	var got []int
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		starter, _ := factory.Go(s, func(context.Context) error { return lazy.Start() })
		for h := range factory.Completed(ctx, lazy, nil) {
			v, _ := h.Result()
			got = append(got, v)
		}
		return starter.Wait(ctx)
	})
	require.NoError(t, err)
	assert.Equal(t, []int{8}, got)
	hiIdle(t, s)
}

// --- Submit / Go / WithOptions inside tasks -----------------------------

// Nil functions, nil factory and a refusal from inside a task: the
// documented sentinels, handles already ended.
func TestHostileSubmitBadInputsInside(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	closedSc, err := s.Root().NewScope()
	require.NoError(t, err)
	closedSc.Cancel(nil)
	_, err = hiOuter(t, s, func(ctx context.Context) error {
		h, err := factory.Submit[int](s, nil)
		if !errors.Is(err, lazytask.ErrNilFunc) || h.State() != lazytask.Failed {
			return fmt.Errorf("Submit(nil fn) = %v, %v", h.State(), err)
		}
		g, err := factory.Go(s, nil)
		if !errors.Is(err, lazytask.ErrNilFunc) || g.State() != lazytask.Failed {
			return fmt.Errorf("Go(nil fn) = %v, %v", g.State(), err)
		}
		w, err := factory.Go(s, func(context.Context) error { return nil }, lazytask.WithWeight(0))
		if !errors.Is(err, lazytask.ErrInvalidOption) || w.State() != lazytask.Failed {
			return fmt.Errorf("Go(weight 0) = %v, %v", w.State(), err)
		}
		heavy, err := factory.Go(s, func(context.Context) error { return nil }, lazytask.WithWeight(2))
		if !errors.Is(err, scheduler.ErrWeightTooLarge) || heavy.State() != lazytask.Canceled {
			return fmt.Errorf("Go(weight 2 at cap 1) = %v, %v", heavy.State(), err)
		}
		r, err := factory.Go(closedSc, func(context.Context) error { return nil })
		if err == nil || r.State() != lazytask.Canceled {
			return fmt.Errorf("Go(canceled scope) = %v, %v", r.State(), err)
		}
		n, err := factory.Submit(nil, func(context.Context) (int, error) { return 6, nil })
		if err != nil {
			return err
		}
		if v, err := n.Await(ctx); v != 6 || err != nil {
			return fmt.Errorf("Submit(nil factory): %v, %v", v, err)
		}
		return nil
	})
	require.NoError(t, err)
	hiIdle(t, s)
}

// Gather through WithOptions with a per-task timeout, from inside a task
// at cap 1: a child that overruns fails with DeadlineExceeded (its own
// timeout), the others succeed.
func TestHostileGatherWithOptionsTimeoutInside(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var vals []int
	var gerr error
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		f := factory.WithOptions(s, lazytask.WithTimeout(time.Millisecond))
		vals, gerr = factory.Gather(ctx, f,
			func(context.Context) (int, error) { return 1, nil },
			func(cctx context.Context) (int, error) { <-cctx.Done(); return 0, cctx.Err() },
		)
		return nil
	})
	require.NoError(t, err)
	assert.ErrorIs(t, gerr, context.DeadlineExceeded)
	assert.Equal(t, []int{1, 0}, vals)
	hiIdle(t, s)
}

// --- cut short, then more work, at cap 1 and 2 -------------------------

// After a cut-short gather leaves the outer task over the cap (its child
// still running), the outer task gathers again with its own context: it
// lends nothing it does not hold, the new children run within the cap, and
// the counters come back to zero.
func TestHostileCutShortThenGatherAgainAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	p := &hiProbe{s: s}
	var vals []int
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		release := make(chan struct{})
		straggler, err := factory.Go(s, func(context.Context) error { cut(); <-release; return nil })
		if err != nil {
			return err
		}
		for range factory.Completed(wctx, straggler) {
			return errors.New("the straggler cannot have ended")
		}
		// Over the cap now, with the straggler in the slot. Let it go
		// only from a task of the next gather, which can run only once
		// the slot is free: so the straggler must end on its own first.
		close(release)
		vals, err = factory.Gather(ctx, s, p.leaf(1), p.leaf(2))
		if err != nil {
			return err
		}
		return straggler.Wait(ctx)
	})
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, vals)
	p.check(t, 1)
	hiIdle(t, s)
}

// Two outer tasks at cap 2, each cut short while its child holds a slot,
// each then cancels its child: the counters end at zero, and no child runs
// beyond the cap.
func TestHostileTwoOuterTasksCutShortAtCapTwo(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	var queuedRan atomic.Int32
	body := func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		vs, err := factory.Gather(wctx, s,
			func(cctx context.Context) (int, error) { cut(); <-cctx.Done(); return 0, context.Cause(cctx) },
			func(context.Context) (int, error) { queuedRan.Add(1); return 1, nil },
		)
		_ = vs
		if !errors.Is(err, context.Canceled) {
			return fmt.Errorf("Gather = %v; want context.Canceled", err)
		}
		return nil
	}
	h1, err := scheduler.Go(s, body)
	require.NoError(t, err)
	h2, err := scheduler.Go(s, body)
	require.NoError(t, err)
	for _, h := range []*lazytask.Task[struct{}]{h1, h2} {
		_, err := h.Await(bounded(t))
		require.NoError(t, err)
	}
	hiIdle(t, s)
}

// A scope with its own cap of 1 under a scheduler cap of 2: Gather on the
// scope from a task in the root, cut short by its first child.
func TestHostileGatherOnCappedScopeCutShort(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	sc, err := s.Root().NewScope(scheduler.WithLimit(1))
	require.NoError(t, err)
	var ran2 atomic.Bool
	var gerr error
	_, err = hiOuter(t, s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		_, gerr = factory.Gather(wctx, sc,
			func(cctx context.Context) (int, error) { cut(); <-cctx.Done(); return 0, context.Cause(cctx) },
			func(context.Context) (int, error) { ran2.Store(true); return 2, nil },
		)
		return nil
	})
	require.NoError(t, err)
	assert.ErrorIs(t, gerr, context.Canceled)
	assert.False(t, ran2.Load())
	hiIdle(t, s)
}

// Outer task whose own timeout (lazytask.WithTimeout) ends while it gathers
// children that block on their contexts: Kotlin's withTimeout. The outer
// task fails with DeadlineExceeded; the children are canceled; nothing is
// left.
func TestHostileOuterTimeoutWhileGatheringAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var gerr error
	h, err := scheduler.Go(s, func(ctx context.Context) error {
		_, gerr = factory.Gather(ctx, s,
			func(cctx context.Context) (int, error) { <-cctx.Done(); return 0, context.Cause(cctx) },
			func(cctx context.Context) (int, error) { <-cctx.Done(); return 0, context.Cause(cctx) },
		)
		return gerr
	}, lazytask.WithTimeout(20*time.Millisecond))
	require.NoError(t, err)
	err = h.Wait(bounded(t))
	require.False(t, errors.Is(bounded(t).Err(), context.DeadlineExceeded), "hang")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, gerr, context.DeadlineExceeded)
	hiIdle(t, s)
}

// --- Start / Serve inside a task ---------------------------------------

// A server started from inside a task at cap 1 on the same scheduler, then
// shut down from inside it: the accept loop waits for a slot the outer task
// lends; Shutdown does not hang and the listener is closed.
func TestHostileStartAndShutdownInsideCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var serr error
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv, err := factory.Start(ln, func(context.Context, net.Conn) error { return nil }, factory.WithScope(s))
		if err != nil {
			return err
		}
		sctx, cancel := context.WithTimeout(ctx, hiHang)
		defer cancel()
		serr = srv.Shutdown(sctx)
		return nil
	})
	require.NoError(t, err)
	assert.NoError(t, serr, "Shutdown from inside a task")
	hiIdle(t, s)
}

// Serve from inside a task at cap 2 with the task's context: one handler
// runs, then cancels the outer task (Trio: the nursery's scope canceled);
// Serve drains and returns nil; the outer task ends Canceled.
func TestHostileServeInsideCanceledByAHandlerAtCapTwo(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	handled := make(chan struct{})
	var serr error
	outer, err := scheduler.Go(s, func(ctx context.Context) error {
		me := lazytask.HandleOf(ctx)
		serr = factory.Serve(ctx, ln, func(hctx context.Context, conn net.Conn) error {
			close(handled)
			me.Cancel(nil)
			return nil
		}, factory.WithScope(s), factory.WithLimit(1))
		return ctx.Err()
	})
	require.NoError(t, err)
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	awaitClosed(t, bounded(t), handled, "the handler ran")
	err = outer.Wait(bounded(t))
	assert.ErrorIs(t, err, context.Canceled)
	assert.NoError(t, serr, "Serve's error")
	hiIdle(t, s)
}

// --- first result, then cancel the rest (the canonical race) -----------

// Hung before core.Gate: the canonical race at cap 1, the winner first and a loser that runs
// until canceled. Race's wait (glue.Recv on the channel fed by OnDone)
// lends the slot without recording the outer task as an awaiter of any
// task, so when the winner ends its slot goes to the queued loser; the
// outer task's Reclaim then waits for the loser, which waits for Race to
// cancel it: a deadlock. Expected: Race returns 1, the loser is canceled
// with ErrNotNeeded (or never runs).
func TestHostileRaceWinnerFirstLoserBlocksAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var v int
	var rerr error
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		v, rerr = factory.Race(ctx, s,
			func(context.Context) (int, error) { return 1, nil },
			func(cctx context.Context) (int, error) { <-cctx.Done(); return 0, context.Cause(cctx) },
		)
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, rerr)
	assert.Equal(t, 1, v)
	hiIdle(t, s)
}

// Hung before core.Gate, the same cause at cap 2 with two outer-lent slots: winner and two
// blocking losers; the winner's slot goes to the queued loser.
func TestHostileRaceWinnerFirstLosersBlockAtCapTwo(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	block := func(cctx context.Context) (int, error) { <-cctx.Done(); return 0, context.Cause(cctx) }
	var v int
	var rerr error
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		// The first blocker takes the free slot, the winner the lent one,
		// the second blocker queues and gets the winner's slot.
		v, rerr = factory.Race(ctx, s, block, func(context.Context) (int, error) { return 1, nil }, block)
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, rerr)
	assert.Equal(t, 1, v)
	hiIdle(t, s)
}

// Hung before core.Gate, the same cause through Completed (Kotlin: select on the first of
// several deferreds, then cancel the rest): at cap 1 the first task ends,
// its slot goes to the queued straggler, and the outer task never gets back
// from the wait to cancel it.
func TestHostileCompletedFirstThenCancelTheRestAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var first int
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		fast, _ := factory.Submit(s, func(context.Context) (int, error) { return 1, nil })
		slow, _ := factory.Submit(s, func(cctx context.Context) (int, error) { <-cctx.Done(); return 0, context.Cause(cctx) })
		for h := range factory.Completed(ctx, fast, slow) {
			first, _ = h.Result()
			break
		}
		slow.Cancel(factory.ErrNotNeeded)
		return slow.Wait(ctx)
	})
	assert.ErrorIs(t, err, factory.ErrNotNeeded)
	assert.Equal(t, 1, first)
	hiIdle(t, s)
}

// Control for the three above: the same pattern through Await (which
// records the outer task as the awaiter, so the winner's slot comes back
// to it ahead of the queue) does not hang.
func TestHostileAwaitFirstThenCancelTheRestAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		fast, _ := factory.Submit(s, func(context.Context) (int, error) { return 1, nil })
		slow, _ := factory.Submit(s, func(cctx context.Context) (int, error) { <-cctx.Done(); return 0, context.Cause(cctx) })
		if v, err := fast.Await(ctx); v != 1 || err != nil {
			return fmt.Errorf("fast: %v, %v", v, err)
		}
		slow.Cancel(factory.ErrNotNeeded)
		return slow.Wait(ctx)
	})
	assert.ErrorIs(t, err, factory.ErrNotNeeded)
	hiIdle(t, s)
}

// Several goroutines of one task wait at once with the task's context
// (Go lets a task do what asyncio cannot): the loans nest, every Gather
// ends, the leaves keep the cap, the counters end at zero.
func TestHostileConcurrentGathersFromOneTaskAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	p := &hiProbe{s: s}
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		errs := make(chan error, 3)
		for i := range 3 {
			go func() {
				_, err := factory.Gather(ctx, s, p.leaf(i), p.leaf(i+1))
				errs <- err
			}()
		}
		for range 3 {
			if err := <-errs; err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	p.check(t, 1)
	hiIdle(t, s)
}

// --- the slot back ahead of tasks queued during the wait (I9) ----------

// hiBackground returns a child body that launches a background task B of
// s (Kotlin: launch in the outer scope) which waits for signal, and the
// channel to close as that signal. At cap 1, B is queued while the child
// runs, and is admitted the moment the child's slot is freed.
func hiBackground(s *scheduler.Scheduler, bg **lazytask.Task[struct{}], signal chan struct{}) func(context.Context) (int, error) {
	return func(context.Context) (int, error) {
		var err error
		*bg, err = factory.Go(s, func(context.Context) error { <-signal; return nil }, lazytask.WithName("background"))
		return 1, err
	}
}

// Hung before core.Gate: I9 says that when a wait from inside a task ends, the task takes a
// slot back ahead of every queued task. Gather's wait (glue.Recv) does not
// record the outer task as an awaiter, so when its only child ends at cap
// 1 the freed slot goes to B, queued during the wait, before OnDone wakes
// Gather; the outer task then waits behind B for the slot, and B waits for
// the outer task's signal: a deadlock. Await (the control below) gives the
// outer task the slot first.
func TestHostileGatherGetsTheSlotBackAheadOfTasksQueuedMeanwhile(t *testing.T) {
	hiSlotBackAheadOfB(t, "Gather", func(ctx context.Context, s *scheduler.Scheduler, body func(context.Context) (int, error)) error {
		vs, err := factory.Gather(ctx, s, body)
		if err != nil || vs[0] != 1 {
			return fmt.Errorf("Gather = %v, %v", vs, err)
		}
		return nil
	})
}

// Hung before core.Gate, the same cause through Map.
func TestHostileMapGetsTheSlotBackAheadOfTasksQueuedMeanwhile(t *testing.T) {
	hiSlotBackAheadOfB(t, "Map", func(ctx context.Context, s *scheduler.Scheduler, body func(context.Context) (int, error)) error {
		_, err := factory.Map(ctx, s, []int{0}, 1, func(ctx context.Context, _ int) (int, error) { return body(ctx) })
		return err
	})
}

// Control: the same through Await keeps the promise of I9.
func TestHostileAwaitGetsTheSlotBackAheadOfTasksQueuedMeanwhile(t *testing.T) {
	hiSlotBackAheadOfB(t, "Await", func(ctx context.Context, s *scheduler.Scheduler, body func(context.Context) (int, error)) error {
		c, err := factory.Submit(s, body)
		if err != nil {
			return err
		}
		_, err = c.Await(ctx)
		return err
	})
}

// hiSlotBackAheadOfB runs, at cap 1, an outer task that waits (with wait)
// for one child whose body launches a background task B that waits for the
// outer task's signal; once the wait returns, B must still be Queued: the
// freed slot went back to the outer task first (I9).
func hiSlotBackAheadOfB(t *testing.T, what string, wait func(ctx context.Context, s *scheduler.Scheduler, body func(context.Context) (int, error)) error) {
	t.Helper()
	s := newScheduler(t, scheduler.WithLimit(1))
	signal := make(chan struct{})
	defer func() {
		select {
		case <-signal:
		default:
			close(signal) // unblock B so that cleanup can finish
		}
	}()
	var b *lazytask.Task[struct{}]
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		if err := wait(ctx, s, hiBackground(s, &b, signal)); err != nil {
			return err
		}
		if st := b.State(); st != lazytask.Queued {
			return fmt.Errorf("B is %v once %s returned; want Queued (the slot back to the outer task first)", st, what)
		}
		close(signal)
		return nil
	})
	require.NoError(t, err)
	hiIdle(t, s)
}

// A weighted outer task (weight 2 at cap 2) whose gather is cut short
// while two children hold the two lent slots: the third child never runs,
// Gather returns the cause, the counters come back to zero.
func TestHostileWeightedOuterGatherCutShortAtCapTwo(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	var ran2 atomic.Bool
	var gerr error
	var after scheduler.Stats
	both := make(chan struct{})
	h, err := scheduler.Go(s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		_, gerr = factory.Gather(wctx, s,
			func(cctx context.Context) (int, error) { <-both; cut(); <-cctx.Done(); return 0, context.Cause(cctx) },
			func(cctx context.Context) (int, error) { close(both); <-cctx.Done(); return 0, context.Cause(cctx) },
			func(context.Context) (int, error) { ran2.Store(true); return 2, nil },
		)
		after = s.Stats()
		return nil
	}, lazytask.WithWeight(2))
	require.NoError(t, err)
	require.NoError(t, h.Wait(bounded(t)))
	assert.ErrorIs(t, gerr, context.Canceled)
	assert.False(t, ran2.Load(), "the queued child ran")
	assert.Equal(t, 0, after.OverCap, "OverCap after Gather")
	assert.Equal(t, 2, after.InUse, "InUse after Gather: the outer's two slots")
	hiIdle(t, s)
}
