package errgroup_test

// Hostile tests of errgroup's token FIFO (limit.go, commit 03b378b):
// SetLimit's semaphore hands the token of an ending function to the oldest
// blocked Go; a Go blocked while Wait blocks lends a running function's
// slot (blockGo / lendACall); Wait and Go wait on the gates all and gos,
// whose ReclaimGate now never waits for slots (it goes over the cap,
// counted). Every wait is bounded by a hang guard; none relies on timing to
// pass, except where a comment says a guard is the passing path.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alitto/pond/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/factory/pondexec"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// htGuard bounds a wait that only a bug ends early (the passing path waits
// it out); short, so that a fixed build pays little for it.
const htGuard = 2 * time.Second

// --- x/sync semantics of the token FIFO ---------------------------------

// SetLimit panics while a function is active, also while the only active
// token is one handed to a Go that was blocked (x/sync: len(sem) != 0);
// a negative limit never panics and lifts the limit.
func TestHostileTokensSetLimitPanicsWhileActive(t *testing.T) {
	var g errgroup.Group
	g.SetLimit(1)
	release := make(chan struct{})
	started := make(chan struct{})
	g.Go(func() error { close(started); <-release; return nil })
	<-started
	assert.Panics(t, func() { g.SetLimit(2) }, "SetLimit(2) with one active")
	assert.Panics(t, func() { g.SetLimit(0) }, "SetLimit(0) with one active")
	assert.False(t, g.TryGo(func() error { return nil }), "TryGo at the limit")
	close(release)
	require.NoError(t, waitBounded(t, &g))
	assert.NotPanics(t, func() { g.SetLimit(3) }, "SetLimit after Wait")
	assert.NotPanics(t, func() { g.SetLimit(-1) }, "SetLimit(-1)")
	for range 5 {
		assert.True(t, g.TryGo(func() error { return nil }), "TryGo without a limit")
	}
	require.NoError(t, waitBounded(t, &g))
}

// SetLimit(0): TryGo always refuses, and so it does again after a later
// SetLimit(1) lifts it (the zero group's own scheduler; In at cap 1).
func TestHostileTokensLimitZero(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	for _, mk := range []func() *errgroup.Group{
		func() *errgroup.Group { return new(errgroup.Group) },
		func() *errgroup.Group { g, _ := errgroup.WithContext(bg); return g },
		func() *errgroup.Group { g, _ := errgroup.In(bg, s); return g },
	} {
		g := mk()
		g.SetLimit(0)
		for range 3 {
			assert.False(t, g.TryGo(func() error { return nil }), "TryGo at limit 0")
		}
		assert.NotPanics(t, func() { g.SetLimit(1) }, "SetLimit(1) after limit 0, nothing active")
		var ran atomic.Int32
		assert.True(t, g.TryGo(func() error { ran.Add(1); return nil }))
		require.NoError(t, waitBounded(t, g))
		assert.Equal(t, int32(1), ran.Load())
	}
}

// TryGo refuses while Go calls wait for a token, also right after the
// token is freed (handed to the waiter, never to the barger); the waiting
// Go calls all run; the limit holds throughout.
func TestHostileTokensTryGoWhileGoWaits(t *testing.T) {
	for _, limit := range []int{1, 2} {
		t.Run(fmt.Sprint("limit", limit), func(t *testing.T) {
			s := newScheduler(t, scheduler.WithLimit(4))
			g, _ := errgroup.In(bg, s)
			g.SetLimit(limit)
			var now, peak atomic.Int32
			body := func() error {
				n := now.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				now.Add(-1)
				return nil
			}
			release := make(chan struct{})
			for range limit {
				g.Go(func() error { <-release; return body() })
			}
			var wg sync.WaitGroup
			for range 3 {
				wg.Add(1)
				go func() { defer wg.Done(); g.Go(body) }()
			}
			refused := 0
			for range 50 {
				if !g.TryGo(body) {
					refused++
				}
			}
			assert.Equal(t, 50, refused, "TryGo at the limit")
			close(release)
			wg.Wait()
			require.NoError(t, waitBounded(t, g))
			assert.LessOrEqual(t, int(peak.Load()), limit, "active at once")
			hiIdle(t, s)
		})
	}
}

// A function that calls runtime.Goexit or (under pondexec, which recovers)
// panics hands its token on to a blocked Go, in an In group at cap 1 inside
// a task.
func TestHostileTokensGoexitAndPanicHandTheTokenOn(t *testing.T) {
	pool := pond.NewPool(4)
	defer pool.StopAndWait()
	s, err := pondexec.New(pool, scheduler.WithLimit(1))
	require.NoError(t, err)
	defer func() { _ = s.Shutdown(bounded(t)) }()
	var ran atomic.Int32
	var werr error
	_, err = hiOuter(t, s, func(ctx context.Context) error {
		g, _ := errgroup.In(ctx, s)
		g.SetLimit(1)
		g.Go(func() error { runtime.Goexit(); return nil })
		g.Go(func() error { ran.Add(1); panic("boom") }) // blocks until the Goexit one ends
		g.Go(func() error { ran.Add(1); return nil })    // blocks until the panicking one ends
		werr = g.Wait()
		return nil
	})
	require.NoError(t, err)
	var pe *lazytask.PanicError
	assert.ErrorAs(t, werr, &pe)
	assert.Equal(t, int32(2), ran.Load())
	hiIdle(t, s)
}

// A group reused for rounds with a limit, In inside a task at caps 1 and 2,
// with a second Wait and a Go after Wait (a new round, a new scope).
func TestHostileTokensReuseRoundsInsideATask(t *testing.T) {
	for _, limit := range []int{1, 2} {
		t.Run(fmt.Sprint("cap", limit), func(t *testing.T) {
			s := newScheduler(t, scheduler.WithLimit(limit))
			p := &hiProbe{s: s}
			_, err := hiOuter(t, s, func(ctx context.Context) error {
				g, _ := errgroup.In(ctx, s)
				g.SetLimit(1)
				for round := range 4 {
					for range 3 {
						g.Go(p.leaf)
					}
					if err := g.Wait(); err != nil {
						return err
					}
					if err := g.Wait(); err != nil {
						return err
					}
					g.SetLimit(1 + round%2) // nothing active: no panic
				}
				return nil
			})
			require.NoError(t, err)
			p.check(t, limit)
			hiIdle(t, s)
		})
	}
}

// --- bugs ------------------------------------------------------------------

// Failed on 03b378b, fixed: blockGo lends no function's slot (every run; passed on 490ec62, where such a Go lent
// the outer task's slot again, a nested no-op). I3: "running tasks holding slots never exceed the cap;
// only an explicit force-run may exceed it, and then it is counted".
// A goroutine of the outer task (not a function of the group) calls Go at
// the limit (3: f0, f1 and a third function queued behind B) while the
// outer task waits in Wait (x/sync allows Go while the group has active
// functions). blockGo sees waits > 0 and lends, through
// lendACall, the slot of a running function of the group, f0 or f1, which
// never waits: it goes on running its own code with its slot lent. The
// caller is a goroutine whose task (the outer) lent its slot already, so
// nothing blocked offsets it: an unrelated queued task B is admitted into
// the lent slot. At cap 2: f0, f1 and B run their own code at once, with
// OverCap 0 (observed: 3 bodies, InUse 2, OverCap 0).
// Expected: B stays queued until a function ends, or is counted over the
// cap. The lendACall design ("all of one scope and weight") holds only
// when the Go caller is itself one of the group's running functions.
func TestHostileTokensOuterGoroutineGoWhileWaitLendsABusyFunctionsSlot(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	var inside atomic.Int32 // f0 and f1 bodies running their own code
	bothIn := make(chan struct{})
	bRan := make(chan struct{})
	type obs struct{ inside, inUse, over int }
	bObs := make(chan obs, 1)
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		g, _ := errgroup.In(ctx, s)
		g.SetLimit(3)
		var once sync.Once
		fn := func() error {
			if inside.Add(1) == 2 {
				once.Do(func() { close(bothIn) })
			}
			// Returns when B ran (the bug), or after htGuard (the passing
			// path: B queued until a function ends).
			select {
			case <-bRan:
			case <-time.After(htGuard):
			}
			inside.Add(-1)
			return nil
		}
		g.Go(fn)
		g.Go(fn)
		_, err := scheduler.Go(s, func(context.Context) error {
			st := s.Stats()
			bObs <- obs{int(inside.Load()), st.InUse, st.OverCap}
			close(bRan)
			return nil
		}, lazytask.WithName("B"))
		if err != nil {
			return err
		}
		goDone := make(chan struct{})
		// keeps the group active until the goroutine's Go returned (so that
		// Go never races Wait at a zero count); queued behind B.
		g.Go(func() error { <-goDone; return nil })
		go func() {
			defer close(goDone)
			<-bothIn                          // both run: the outer task is in Wait
			g.Go(func() error { return nil }) // blocks at the limit
		}()
		err = g.Wait()
		<-goDone
		return errors.Join(err, g.Wait())
	})
	require.NoError(t, err)
	o := <-bObs
	assert.LessOrEqual(t, o.inside+1, 2+o.over,
		"B ran while %d functions ran their own code, at cap 2 with OverCap %d (InUse %d)", o.inside, o.over, o.inUse)
	hiIdle(t, s)
}

// Skipped: a known limitation, open (older than 03b378b). x/sync runs this; so does In given a task's context
// (the slot is lent on g.gos). In given a context that is no task's (here
// context.Background(), as ExampleIn does) at cap 1: a function calls Go
// at the limit while nobody is in Wait yet. blockGo lends on g.lend, which
// lends nothing, and the function blocks holding the only slot; f2, whose
// end would free the limit, stays Queued: a deadlock (I9: "every wait made
// from inside a task ... lends the task's slot"; the package doc: "Called
// from inside a task of a scheduler, Go (when it blocks at the limit) ...
// lend[s] the task's slot"). Here the blocking Go is called from inside
// f1, a task of the scheduler, yet f1's slot is not lent. Cut by the hang
// guard; the Shutdown in the cleanup cancels f2 and unwinds it.
func TestHostileTokensInFromBackgroundGoFromAFunctionAtTheLimitAtCapOne(t *testing.T) {
	t.Skip("known limitation, open: Go at the limit from inside a function of the group keeps that function's slot while it blocks (x/sync gives a function no context naming its task; lending another's slot let a task run over the cap uncounted); at a cap not above the limit it hangs")
	s := newScheduler(t, scheduler.WithLimit(1))
	g, _ := errgroup.In(bg, s)
	g.SetLimit(2)
	f1Done := make(chan struct{})
	g.Go(func() error {
		g.Go(func() error { return nil }) // f2: a token is free; queued behind f1
		g.Go(func() error { return nil }) // f3: blocks until f2 ends
		close(f1Done)
		return nil
	})
	select {
	case <-f1Done:
	case <-time.After(hiHang):
		t.Fatalf("f1's Go at the limit holds the only slot; f2 queued (stats %+v)", s.Stats())
	}
	require.NoError(t, waitBounded(t, g))
	hiIdle(t, s)
}

// Failed on 03b378b, fixed: errgroup's gates are patient (intermittently: the rounds that lost the race; passed
// on 490ec62, whose ReclaimGate waited at the head of the reclaims). I9:
// "runs over the cap (counted) only where waiting for one could
// deadlock"; before 03b378b ReclaimGate waited here. A Go blocked at
// limit 1 in the outer task at cap 1: the ending function hands the token
// over in its deferred done (put), inside its function, before its task's
// Release frees the slot. The woken Go's ReclaimGate may run first: the
// slot is still held, so the outer task goes over the cap (counted) for a
// wait that nothing could deadlock (the function is returning). Observed:
// OverCap 1 right after Go returns in some rounds (5 or 6 of 200).
// Expected: 0 (the Release hands the slot over, as it does for a waiter
// at the head of the reclaims). Counted and short, but it breaks I9's
// "only where" and the claim that the token handoff lets the Release
// know the wait it ends.
func TestHostileTokensGoAtTheLimitGoesOverTheCapBeforeTheRelease(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	const rounds = 200
	over := 0
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		g, _ := errgroup.In(ctx, s)
		g.SetLimit(1)
		for range rounds {
			g.Go(func() error { return nil })
			g.Go(func() error { return nil }) // blocks until the first ends
			if s.Stats().OverCap > 0 {
				over++
			}
			if err := g.Wait(); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 0, over, "rounds in which the outer task was over the cap after a Go at the limit")
	hiIdle(t, s)
}

// Skipped: a known limitation, open (18 to 20 rounds of 20 on 03b378b; on 490ec62 this hangs: the
// older deadlock that blockGo fixed). I9: "when the wait ends the task takes a
// slot back ahead of every queued task". A function f1 calls Go at the
// limit while the outer task waits in Wait, at cap 1: blockGo lends f1's
// slot through lendACall (a plain Lend, no gate, no early reclaim). f2
// runs and ends; its deferred done hands f1 the token, its Release frees
// the slot and admits B, a task queued after f2, before f1's Reclaim
// asks: f1 then waits for B. Observed: B runs while f1 is still inside
// Go. Expected: f1 gets its slot back in f2's Release (as the gate path
// does for Go in the outer task), B after f1.
func TestHostileTokensGoFromAFunctionAtTheLimitSlotGoesToAQueuedTaskFirst(t *testing.T) {
	t.Skip("known limitation, open: Go at the limit from inside a function of the group keeps that function's slot while it blocks (x/sync gives a function no context naming its task; lending another's slot let a task run over the cap uncounted); at a cap not above the limit it hangs")
	s := newScheduler(t, scheduler.WithLimit(1))
	const rounds = 20
	ahead := 0
	for range rounds {
		var goReturned atomic.Bool
		bSaw := make(chan bool, 1)
		_, err := hiOuter(t, s, func(ctx context.Context) error {
			g, _ := errgroup.In(ctx, s)
			g.SetLimit(2)
			g.Go(func() error { // f1
				g.Go(func() error { return nil }) // f2: queued
				if _, err := scheduler.Go(s, func(context.Context) error {
					bSaw <- goReturned.Load()
					return nil
				}, lazytask.WithName("B")); err != nil {
					return err
				}
				g.Go(func() error { return nil }) // f3: blocks until f2 ends
				goReturned.Store(true)
				return nil
			})
			return g.Wait()
		})
		require.NoError(t, err)
		if !<-bSaw {
			ahead++
		}
		hiIdle(t, s)
	}
	assert.Equal(t, 0, ahead, "rounds (of %d) in which B, queued after f2, ran before f1 got its slot back", rounds)
}

// --- nesting ---------------------------------------------------------------

// In nested in a function of another In group, both with limits, the inner
// Go calls blocking at the limit, at caps 1 and 2 and outer weights 1 and
// 2 (cap 2): no hang, leaves within the cap, counters back to 0, no
// goroutine left (goleak in TestMain).
//
// Failed on 03b378b, fixed: LendIdle lends no slot of a task waiting in the reclaims ; on 03b378b, intermittently: cap1/w1/lim2-1 and cap1/w1/lim2-2
// hang (3 of 16 subtest runs with -count=8; both in the first run)
// (stats: InUse 1, Running 2 (outer + one F), Queued 2 leaves); on 490ec62
// lim2-1 hung 1 run in 8: older than 03b378b, made more likely by it. The hung F sits in inner.Wait, in block's
// lendACall branch, holding its slot. Reading: F2's inner Go got its token
// and its Reclaim(F2) queued in s.reclaims (OwnerWord back to 0, no slot
// held); F1's inner.Wait then lendACall'ed F2: LendIdle saw Running and
// OwnerWord 0 and "lent" a slot F2 does not hold (putPath), which granted
// F2's reclaim at once; F2 ran on, counted as lent, and its Release put
// nothing back, while F1 kept the only slot, blocked, its leaves queued
// (I9). With LendIdle refusing a task that waits in s.reclaims (tried on
// a scratch copy) every case passes 4 runs in 4. 03b378b makes it
// more likely (the token FIFO hands the inner tokens in an order that
// takes this path more often).
func TestHostileTokensNestedLimitsInsideATask(t *testing.T) {
	for _, tc := range []struct{ cap, weight, outerLim, innerLim int }{
		{1, 1, 1, 1}, {1, 1, 2, 1}, {1, 1, 2, 2}, {2, 1, 1, 1}, {2, 1, 2, 1}, {2, 2, 2, 1}, {2, 2, 1, 2}, {2, 2, 3, 2},
	} {
		t.Run(fmt.Sprintf("cap%d/w%d/lim%d-%d", tc.cap, tc.weight, tc.outerLim, tc.innerLim), func(t *testing.T) {
			s := newScheduler(t, scheduler.WithLimit(tc.cap))
			p := &hiProbe{s: s}
			h, err := scheduler.Go(s, func(ctx context.Context) error {
				g, gctx := errgroup.In(ctx, s)
				g.SetLimit(tc.outerLim)
				for range 3 {
					g.Go(func() error {
						inner, _ := errgroup.In(gctx, s)
						inner.SetLimit(tc.innerLim)
						for range 3 {
							inner.Go(p.leaf)
						}
						return inner.Wait()
					})
				}
				return g.Wait()
			}, lazytask.WithWeight(tc.weight))
			require.NoError(t, err)
			select {
			case <-h.Done():
			case <-time.After(hiHang):
				t.Fatalf("outer still %v (stats %+v)", h.State(), s.Stats())
			}
			require.NoError(t, h.Err())
			p.check(t, tc.cap)
			hiIdle(t, s)
		})
	}
}

// A weight-2 outer task at cap 2 with a Go blocked at limit 1: the end that
// hands the token frees only 1 slot, so the outer task goes over the cap
// (counted). Its run over the cap ends once the slots free up: OverCap is
// 0 once the group is idle, while the outer task still runs.
func TestHostileTokensHeavyOuterOverTheCapEndsWhenSlotsFree(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	var overAfter int
	var maxOverSeen int
	h, err := scheduler.Go(s, func(ctx context.Context) error {
		g, _ := errgroup.In(ctx, s)
		g.SetLimit(1)
		for range 5 {
			g.Go(func() error { return nil })
			g.Go(func() error { return nil }) // blocks
			maxOverSeen = max(maxOverSeen, s.Stats().OverCap)
		}
		if err := g.Wait(); err != nil {
			return err
		}
		overAfter = s.Stats().OverCap
		return nil
	}, lazytask.WithWeight(2))
	require.NoError(t, err)
	select {
	case <-h.Done():
	case <-time.After(hiHang):
		t.Fatalf("outer still %v (stats %+v)", h.State(), s.Stats())
	}
	require.NoError(t, h.Err())
	t.Logf("peak OverCap seen by the outer task after a blocked Go: %d", maxOverSeen)
	assert.Equal(t, 0, overAfter, "OverCap once the group is idle and the outer task runs")
	hiIdle(t, s)
}
