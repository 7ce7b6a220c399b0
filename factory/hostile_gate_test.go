package factory_test

// Hostile tests of core.Gate (commit 4e7a08c): the combinators' waits on a
// channel fed by several tasks' done callbacks get the caller's slot back
// in the Release of the watched task that ends, ahead of the queue. The
// risk looked for: a watched task's end hands the caller its slot while
// the caller's wait is NOT about to end, so the caller holds a slot while
// blocked. Every wait is bounded by a hang guard; none relies on timing.

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// hgGuard bounds a wait inside a callback that the bug under test turns
// into a deadlock: long enough that it never fires on a correct run.
const hgGuard = 3 * time.Second

// hgReleaseSignal closes signal if it is still open (cleanup for tests
// that use hiBackground).
func hgReleaseSignal(signal chan struct{}) {
	select {
	case <-signal:
	default:
		close(signal)
	}
}

// Failed on 4e7a08c (passed on b8aaa75); fixed: a gate watches only tasks
// whose first callback is the combinator's (core.Gate.OnDone). I11: "the ended task's slot is
// free before [its done callbacks] run, the next task starts on its own;
// a callback that awaits another task ... cannot deadlock". Completed is
// given handles the caller holds; a's owner registered a done callback
// before Completed registered its own, and that callback waits for b to
// start. At cap 1 a's Release hands the slot straight to the outer task
// (the gate is waiting), but the outer task's wait only ends when
// Completed's callback sends, which runs after the user's callback: the
// outer task holds the only slot while blocked, b stays Queued, the user's
// callback waits for b: a deadlock (here cut by hgGuard).
func TestHostileGateCompletedEarlierCallbackWaitsForSiblingAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	bStarted := make(chan struct{})
	var sawB atomic.Bool
	var n int
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		a, _ := factory.Submit(s, func(context.Context) (int, error) { return 1, nil })
		b, _ := factory.Submit(s, func(context.Context) (int, error) { close(bStarted); return 2, nil })
		a.OnDone(func(int, error) {
			select {
			case <-bStarted:
				sawB.Store(true)
			case <-time.After(hgGuard): // a guard against the deadlock, not a sync
			}
		})
		for range factory.Completed(ctx, a, b) {
			n++
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.True(t, sawB.Load(), "b did not start while a's done callback waited for it: a's slot went to the blocked outer task (I11)")
	hiIdle(t, s)
}

// Failed on 4e7a08c (passed on b8aaa75); fixed: a gate watches only tasks
// whose first callback is the combinator's (core.Gate.OnDone). The same with a callback that
// awaits the sibling (I11: "a callback that awaits another task ... cannot
// deadlock"); the await is bounded so the test ends.
func TestHostileGateCompletedEarlierCallbackAwaitsSiblingAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var awaitErr atomic.Value
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		a, _ := factory.Submit(s, func(context.Context) (int, error) { return 1, nil })
		b, _ := factory.Submit(s, func(context.Context) (int, error) { return 2, nil })
		a.OnDone(func(int, error) {
			actx, cancel := context.WithTimeout(context.Background(), hgGuard)
			defer cancel()
			_, err := b.Await(actx)
			awaitErr.Store(fmt.Sprint(err))
		})
		for range factory.Completed(ctx, a, b) {
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, "<nil>", awaitErr.Load(), "a's callback awaiting b")
	hiIdle(t, s)
}

// Handles of another scheduler: their ends see the gate but must not touch
// the outer task's scheduler. Both caps 1; nothing hangs, counters end at 0.
func TestHostileGateCompletedForeignSchedulerAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	s2 := newScheduler(t, scheduler.WithLimit(1))
	var got []int
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		var ts []*lazytask.Task[int]
		for i := range 3 {
			sp := s2
			if i == 1 {
				sp = s // one of the own scheduler among them
			}
			h, _ := factory.Submit(sp, func(context.Context) (int, error) { return i, nil })
			ts = append(ts, h)
		}
		for h := range factory.Completed(ctx, ts...) {
			v, _ := h.Result()
			got = append(got, v)
		}
		return nil
	})
	require.NoError(t, err)
	assert.ElementsMatch(t, []int{0, 1, 2}, got)
	hiIdle(t, s)
	hiIdle(t, s2)
}

// A handle given twice and nil handles: the task's end is seen twice by
// the gate; the outer task still gets the slot back ahead of B (queued by
// the task meanwhile), and B is Queued once the loop is done.
func TestHostileGateCompletedSameHandleTwiceAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	signal := make(chan struct{})
	defer hgReleaseSignal(signal)
	var b *lazytask.Task[struct{}]
	var n int
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		h, _ := factory.Submit(s, hiBackground(s, &b, signal))
		for range factory.Completed(ctx, nil, h, nil, h) {
			n++
		}
		if st := b.State(); st != lazytask.Queued {
			return fmt.Errorf("B is %v once Completed ended; want Queued", st)
		}
		close(signal)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	hiIdle(t, s)
}

// A Lazy handle canceled by a child (ends without a Release), next to a
// task that runs: no hang, counters at 0.
func TestHostileGateCompletedLazyCanceledByAChildAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	lazy := lazytask.New(func(context.Context) (int, error) { return 8, nil })
	var n int
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		canceler, _ := factory.Submit(s, func(context.Context) (int, error) { lazy.Cancel(nil); return 1, nil })
		for range factory.Completed(ctx, lazy, canceler) {
			n++
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, lazytask.Canceled, lazy.State())
	hiIdle(t, s)
}

// Race at cap 1: the first to end fails, the second wins and launches B;
// the losers queued behind are canceled and drained. Race returns, and B
// is still Queued (the slot came back to the outer task first).
func TestHostileGateRaceFailThenWinThenDrainAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	signal := make(chan struct{})
	defer hgReleaseSignal(signal)
	var b *lazytask.Task[struct{}]
	block := func(cctx context.Context) (int, error) { <-cctx.Done(); return 0, context.Cause(cctx) }
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		v, err := factory.Race(ctx, s,
			func(context.Context) (int, error) { return 0, errors.New("lose") },
			hiBackground(s, &b, signal),
			block, block,
		)
		if err != nil || v != 1 {
			return fmt.Errorf("Race = %v, %v", v, err)
		}
		if st := b.State(); st != lazytask.Queued {
			return fmt.Errorf("B is %v once Race returned; want Queued", st)
		}
		close(signal)
		return nil
	})
	require.NoError(t, err)
	hiIdle(t, s)
}

// Race cut short by its context while a child holds the slot at cap 1,
// then drained: the child that cut it ends on the cancel; no hang.
func TestHostileGateRaceCutShortThenDrainAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var rerr error
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		_, rerr = factory.Race(wctx, s,
			func(cctx context.Context) (int, error) { cut(); <-cctx.Done(); return 0, context.Cause(cctx) },
			func(cctx context.Context) (int, error) { <-cctx.Done(); return 0, context.Cause(cctx) },
		)
		return nil
	})
	require.NoError(t, err)
	assert.ErrorIs(t, rerr, context.Canceled)
	hiIdle(t, s)
}

// AsCompleted: break on the first (which launched B); the rest, queued at
// cap 1, are canceled and drained; B is still Queued after the loop.
func TestHostileGateAsCompletedBreakDrainAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	signal := make(chan struct{})
	defer hgReleaseSignal(signal)
	var b *lazytask.Task[struct{}]
	block := func(cctx context.Context) (int, error) { <-cctx.Done(); return 0, context.Cause(cctx) }
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		for i, r := range factory.AsCompleted(ctx, s, hiBackground(s, &b, signal), block, block) {
			if i != 0 || r.Err != nil {
				return fmt.Errorf("first yielded %d, %v", i, r.Err)
			}
			break
		}
		if st := b.State(); st != lazytask.Queued {
			return fmt.Errorf("B is %v once the loop ended; want Queued", st)
		}
		close(signal)
		return nil
	})
	require.NoError(t, err)
	hiIdle(t, s)
}

// AsCompleted cut short by a child at cap 1 (the others queued): the rest
// are canceled with the cause and yielded; no hang, counters at 0.
func TestHostileGateAsCompletedCutShortAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var n int
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		block := func(cctx context.Context) (int, error) { <-cctx.Done(); return 0, context.Cause(cctx) }
		for range factory.AsCompleted(wctx, s,
			func(cctx context.Context) (int, error) { cut(); <-cctx.Done(); return 0, context.Cause(cctx) },
			block, block) {
			n++
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	hiIdle(t, s)
}

// Map with limit 1 < len 3 at cap 1: each item is submitted after the
// previous one's end gave the slot back; the last launches B, which is
// still Queued once Map returns.
func TestHostileGateMapLimitBelowLenAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	signal := make(chan struct{})
	defer hgReleaseSignal(signal)
	var b *lazytask.Task[struct{}]
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		body := hiBackground(s, &b, signal)
		out, err := factory.Map(ctx, s, []int{0, 1, 2}, 1, func(ctx context.Context, v int) (int, error) {
			if v == 2 {
				return body(ctx)
			}
			return v, nil
		})
		if err != nil || len(out) != 3 {
			return fmt.Errorf("Map = %v, %v", out, err)
		}
		if st := b.State(); st != lazytask.Queued {
			return fmt.Errorf("B is %v once Map returned; want Queued", st)
		}
		close(signal)
		return nil
	})
	require.NoError(t, err)
	hiIdle(t, s)
}

// Weight 2 outer task at cap 2: Gather of three weight-1 children; the
// first child's end cannot give both slots back while the second runs.
// The third, queued, must still get to run: the second waits for it to
// start (it could under the cap: the outer task lent both its slots).
// Would fail if the gate's early reclaim (a place at the head of the reclaims
// that the outer task only needs once all children are done) keeps the
// third out; see the report.
func TestHostileGateWeightedGatherChildWaitsForSiblingAtCapTwo(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	thirdStarted := make(chan struct{})
	var sawThird atomic.Bool
	var gerr error
	h, err := scheduler.Go(s, func(ctx context.Context) error {
		_, gerr = factory.Gather(ctx, s,
			func(context.Context) (int, error) { return 0, nil },
			func(context.Context) (int, error) {
				select {
				case <-thirdStarted:
					sawThird.Store(true)
				case <-time.After(hgGuard): // a guard against the deadlock, not a sync
				}
				return 1, nil
			},
			func(context.Context) (int, error) { close(thirdStarted); return 2, nil },
		)
		return gerr
	}, lazytask.WithWeight(2))
	require.NoError(t, err)
	select {
	case <-h.Done():
	case <-time.After(hiHang):
		t.Fatalf("outer still %v: a hang (stats %+v)", h.State(), s.Stats())
	}
	require.NoError(t, h.Err())
	assert.True(t, sawThird.Load(), "the third child did not start while the second waited for it")
	hiIdle(t, s)
}

// The gate's task ends while a goroutine it left behind still waits on the
// gate (Completed with the task's context): the watched task's end must
// not give slots to an ended task; counters end at 0.
func TestHostileGateWaiterEndsBeforeWatchedTaskAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	release := make(chan struct{})
	left := make(chan int, 1)
	var slow *lazytask.Task[int]
	waiting := make(chan struct{})
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		slow, _ = factory.Submit(s, func(context.Context) (int, error) { <-release; return 5, nil })
		go func() {
			n := 0
			close(waiting)
			for range factory.Completed(context.WithoutCancel(ctx), slow) {
				n++
			}
			left <- n
		}()
		<-waiting
		return nil
	})
	require.NoError(t, err)
	close(release)
	select {
	case n := <-left:
		assert.Equal(t, 1, n)
	case <-time.After(hiHang):
		t.Fatalf("the goroutine left behind hung (stats %+v)", s.Stats())
	}
	hiIdle(t, s)
}

// Failed on 4e7a08c and on b8aaa75, fixed since a wait on a gate never
// waits for its slots (owner.ReclaimGate) (older than 4e7a08c; the 3-child
// test above is the form this change brings in). The same with four
// children, the second waiting for the fourth: Gather takes the weight-2
// outer task's slots back between receives (before: at the receive; now:
// already in the ended child's Release), and a reclaim that does not fit
// keeps its place at the head, ahead of the queued fourth child, while the
// outer task only goes back to waiting once it is granted.
func TestHostileGateWeightedGatherFourChildrenAtCapTwo(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	lastStarted := make(chan struct{})
	var sawLast atomic.Bool
	h, err := scheduler.Go(s, func(ctx context.Context) error {
		_, err := factory.Gather(ctx, s,
			func(context.Context) (int, error) { return 0, nil },
			func(context.Context) (int, error) {
				select {
				case <-lastStarted:
					sawLast.Store(true)
				case <-time.After(hgGuard): // a guard against the deadlock, not a sync
				}
				return 1, nil
			},
			func(context.Context) (int, error) { return 2, nil },
			func(context.Context) (int, error) { close(lastStarted); return 3, nil },
		)
		return err
	}, lazytask.WithWeight(2))
	require.NoError(t, err)
	select {
	case <-h.Done():
	case <-time.After(hiHang):
		t.Fatalf("outer still %v: a hang (stats %+v)", h.State(), s.Stats())
	}
	require.NoError(t, h.Err())
	assert.True(t, sawLast.Load(), "the fourth child did not start while the second waited for it")
	hiIdle(t, s)
}
