package errgroup_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/internal/goid"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// capMeter sums the weights of the tree nodes running their own code (not
// waiting), and keeps the highest sum seen by a node whose context is live:
// a node back from a wait that its canceled context cut short runs over the
// cap by design, counted (I9), and is left out.
type capMeter struct {
	mu           sync.Mutex
	active, peak int
}

func (m *capMeter) add(ctx context.Context, d int) {
	m.mu.Lock()
	m.active += d
	if d > 0 && ctx.Err() == nil {
		m.peak = max(m.peak, m.active)
	}
	m.mu.Unlock()
}

// Random trees of nested groups, awaits, Gathers, Races and Maps on one
// scheduler of cap 1 to 3, with weights 1 and 2: each node either returns,
// or fans out to one to three children with an errgroup.In group made with
// its own context (a function of an outer group has only the group's),
// with Submit and Await, or with a combinator (whose tasks carry the values
// of the context it is given, a group's among them). Every tree must end
// (I9), the nodes running their own code must stay within the cap (I3),
// and the counters must be back to 0.
//
// A nested group's wait used to lend the slot of any running function of
// the outer group rather than of the function that waited, and a group
// made in a combinator's task from a function's context took that task
// for a function of the outer group: the waiting one's slot stayed held,
// and a few trees in 450 hung with every task waiting. A combinator's wait
// that ended with its last task went on over the cap. (A hostile review
// and a probe, 2026-12-06.)
func TestNestedGroupsAndCombinatorsInRandomTreesEndWithinTheCap(t *testing.T) {
	var node func(rng *rand.Rand, s *scheduler.Scheduler, m *capMeter, limit, depth, w int) func(ctx context.Context) error
	node = func(rng *rand.Rand, s *scheduler.Scheduler, m *capMeter, limit, depth, w int) func(ctx context.Context) error {
		n := 0
		if depth > 0 && rng.IntN(4) > 0 {
			n = 1 + rng.IntN(3)
		}
		// a group, awaits, Gather, Race, Map, a group waited for on a
		// goroutine the node starts, a group of limit 1
		kind := rng.IntN(7)
		kw := 1 + rng.IntN(min(2, limit)) // the children's weight
		if kind == 0 || kind >= 5 {
			kw = 1 // a group's functions run with weight 1
		}
		mapLimit := 1 + rng.IntN(2)
		kids := make([]func(ctx context.Context) error, n)
		for i := range kids {
			kids[i] = node(rand.New(rand.NewPCG(rng.Uint64(), 1)), s, m, limit, depth-1, kw)
		}
		asFns := func() []func(ctx context.Context) (struct{}, error) {
			fns := make([]func(ctx context.Context) (struct{}, error), len(kids))
			for i, k := range kids {
				fns[i] = func(ctx context.Context) (struct{}, error) { return struct{}{}, k(ctx) }
			}
			return fns
		}
		return func(ctx context.Context) (err error) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			m.add(ctx, w)
			held := w
			defer func() { m.add(ctx, -held) }()
			if n == 0 {
				return nil
			}
			m.add(ctx, -w) // waiting from here
			held = 0
			defer func() {
				if ctx.Err() == nil {
					held = w
					m.add(ctx, w)
				}
			}()
			f := factory.WithOptions(s, lazytask.WithWeight(kw))
			switch kind {
			case 0:
				g, gctx := errgroup.In(ctx, s.Root())
				for _, k := range kids {
					g.Go(func() error { return k(gctx) })
				}
				return g.Wait()
			case 5, 6:
				g, gctx := errgroup.In(ctx, s.Root())
				if kind == 6 {
					g.SetLimit(1)
				}
				for _, k := range kids {
					g.Go(func() error { return k(gctx) })
				}
				if kind == 6 {
					return g.Wait()
				}
				errc := make(chan error, 1)
				go func() { errc <- g.Wait() }()
				return <-errc
			case 1:
				var hs []*lazytask.Task[struct{}]
				for _, k := range kids {
					h, err := scheduler.Go(s, k, lazytask.WithWeight(kw))
					if err != nil {
						return err
					}
					hs = append(hs, h)
				}
				for _, h := range hs {
					if err := h.Wait(ctx); err != nil {
						return err
					}
				}
				return nil
			case 2:
				_, err = factory.Gather(ctx, f, asFns()...)
			case 3:
				_, err = factory.Race(ctx, f, asFns()...)
			default:
				_, err = factory.Map(ctx, f, kids, mapLimit, func(ctx context.Context, k func(context.Context) error) (struct{}, error) {
					return struct{}{}, k(ctx)
				})
			}
			if errors.Is(err, factory.ErrNotNeeded) {
				err = nil // a Race's loser
			}
			return err
		}
	}
	for seed := range uint64(150) {
		for limit := 1; limit <= 3; limit++ {
			s := newScheduler(t, scheduler.WithLimit(limit))
			m := &capMeter{}
			rng := rand.New(rand.NewPCG(seed, 7))
			bound, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var hs []*lazytask.Task[struct{}]
			for range 6 {
				w := 1 + rng.IntN(min(2, limit))
				h, err := scheduler.Go(s, node(rng, s, m, limit, 4, w), lazytask.WithWeight(w))
				require.NoError(t, err)
				hs = append(hs, h)
			}
			for _, h := range hs {
				_ = h.Wait(bound) // a Race cancels its losers: only the end matters here
				require.True(t, h.State().Terminal(), "seed %d, cap %d: a tree did not end (stats %+v)", seed, limit, s.Stats())
			}
			cancel()
			require.NoError(t, s.Shutdown(context.Background()))
			assert.LessOrEqual(t, m.peak, limit, "seed %d, cap %d: weight of the nodes running their own code", seed, limit)
			st := s.Stats()
			assert.Zero(t, st.InUse, "seed %d, cap %d: InUse", seed, limit)
			assert.Zero(t, st.OverCap, "seed %d, cap %d: OverCap", seed, limit)
		}
	}
}

// A nested group's Wait made on a goroutine that runs none of the groups'
// functions and was started by none (the test's own) lends no slot: the
// scheduler's two slots stay with the outer group's two functions, which
// run their own code, and the inner group's functions stay queued. It
// used to lend one of the outer group's running functions' slots, so that
// an inner function ran beside both: three tasks' code at cap 2 (a
// hostile review, 2026-12-06).
func TestNestedWaitFromAStrangerLendsNoBusyFunctionsSlot(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	bound, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	innerc := make(chan *errgroup.Group, 1)
	outer, gctx := errgroup.In(bound, s)
	outer.Go(func() error { started <- struct{}{}; <-release; return nil })
	outer.Go(func() error {
		inner, _ := errgroup.In(gctx, s)
		for range 2 {
			inner.Go(func() error { return nil })
		}
		innerc <- inner
		started <- struct{}{}
		<-release // busy, holding its slot: its own code, not a wait
		return nil
	})
	<-started
	<-started
	inner := <-innerc
	waited := make(chan error, 1)
	go waitFromAStranger(inner, waited)
	blocked := awaitBlockedIn(bound, "waitFromAStranger", "sync.(*WaitGroup).Wait", func() bool { return len(waited) > 0 })
	if !blocked {
		close(release)
		t.Fatalf("the stranger's Wait did not block: the inner functions ran while the outer two ran their own code (stats %+v)", s.Stats())
	}
	st := s.Stats()
	assert.Equal(t, 2, st.Running, "tasks running while a stranger waits (stats %+v)", st)
	assert.Equal(t, 2, st.Queued, "inner functions queued while a stranger waits (stats %+v)", st)
	close(release)
	require.NoError(t, <-waited)
	require.NoError(t, outer.Wait())
	st = s.Stats()
	assert.Zero(t, st.InUse, "InUse at the end")
	assert.Zero(t, st.OverCap, "OverCap at the end")
}

// A function of an In group at cap 1 starts a goroutine that waits for a
// nested group and waits for that goroutine: the goroutine's Wait lends the
// slot of the function that started it, and the nested function runs.
func TestNestedWaitOnAGoroutineAFunctionStartedLendsItsSlot(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	bound, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	outer, gctx := errgroup.In(bound, s)
	ran := false
	outer.Go(func() error {
		inner, _ := errgroup.In(gctx, s)
		inner.Go(func() error { ran = true; return nil })
		errc := make(chan error, 1)
		go func() { errc <- inner.Wait() }()
		return <-errc
	})
	requireEnds(t, bound, s, outer, "the groups")
	assert.True(t, ran, "the nested function ran")
	assert.Zero(t, s.Stats().InUse, "InUse at the end")
}

// The same two goroutines below the function (it starts one, which starts
// the one that waits), and under GODEBUG=tracebackancestors, whose traces
// name more creators than one: the wait finds the function through its
// ancestors and lends its slot. Two levels down it used to lend nothing
// and hang, and with that setting so did one level down (a hostile
// review, 2026-12-06).
func TestNestedWaitBelowAFunctionsGoroutinesLendsItsSlot(t *testing.T) {
	if os.Getenv("ERRGROUP_TEST_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNestedWaitBelowAFunctionsGoroutinesLendsItsSlot$", "-test.v")
		cmd.Env = append(os.Environ(), "ERRGROUP_TEST_CHILD=1", "GODEBUG=tracebackancestors=10")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "under tracebackancestors:\n%s", out)
		require.Contains(t, string(out), "--- PASS: TestNestedWaitBelowAFunctionsGoroutinesLendsItsSlot", "the child ran the test")
	}
	for depth := 1; depth <= 3; depth++ {
		s := newScheduler(t, scheduler.WithLimit(1))
		bound, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		outer, gctx := errgroup.In(bound, s)
		ran := false
		outer.Go(func() error {
			inner, _ := errgroup.In(gctx, s)
			inner.Go(func() error { ran = true; return nil })
			var below func(int) error
			below = func(d int) error {
				errc := make(chan error, 1)
				go func() {
					if d == 1 {
						errc <- inner.Wait()
						return
					}
					errc <- below(d - 1)
				}()
				return <-errc
			}
			return below(depth)
		})
		requireEnds(t, bound, s, outer, fmt.Sprintf("depth %d: the groups", depth))
		cancel()
		assert.True(t, ran, "depth %d: the nested function ran", depth)
	}
}

// A function starts a plain task (not a group's function), whose goroutine
// starts one that waits with the group's context (a Gather): the walk up
// that goroutine's ancestry stops at the task's goroutine (a scheduler's
// goroutine carries the ancestry of whatever admitted its first task, here
// the function's) and lends nothing, so the Gather's task waits for a slot
// while the function and the task run their own code at cap 2. It used to
// walk on into the function and lend its slot: three at once (a hostile
// review, 2026-12-06).
func TestNestedWaitBelowAPlainTaskLendsNoFunctionsSlot(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	bound, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := &capMeter{}
	release := make(chan struct{})
	gathered := make(chan error, 1)
	outer, gctx := errgroup.In(bound, s)
	outer.Go(func() error {
		m.add(bound, 1)
		defer m.add(bound, -1)
		_, err := scheduler.Submit(s, func(context.Context) (struct{}, error) {
			m.add(bound, 1)
			defer m.add(bound, -1)
			go func() {
				_, err := factory.Gather(gctx, s, func(context.Context) (struct{}, error) {
					m.add(bound, 1)
					m.add(bound, -1)
					return struct{}{}, nil
				})
				gathered <- err
			}()
			<-release
			return struct{}{}, nil
		})
		<-release
		return err
	})
	blocked := awaitBlockedIn(bound, "factory.Gather", "[select", func() bool { return len(gathered) > 0 })
	close(release)
	require.True(t, blocked, "the Gather did not wait: its task ran while both others did")
	require.NoError(t, outer.Wait())
	_ = <-gathered // canceled with the group's context once Wait returns, or ended
	assert.LessOrEqual(t, m.peak, 2, "tasks running their own code at cap 2")
}

// A helper goroutine that a function starts starts the one that waits, and
// exits first: the waiter's ancestry is lost past it, so its wait lends
// the slot of one of the outer group's functions (here the one waiting for
// it) rather than none, and the group ends. It used to hang at cap 1.
func TestNestedWaitPastAnExitedHelperGoroutineEnds(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	bound, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	outer, gctx := errgroup.In(bound, s)
	outer.Go(func() error {
		inner, _ := errgroup.In(gctx, s)
		inner.Go(func() error { return nil })
		errc := make(chan error, 1)
		helper := make(chan uint64, 1)
		go func() {
			helper <- goid.ID()
			go func() {
				h := <-helper
				for goroutineLive(h) { // the helper has gone before the wait
					runtime.Gosched()
				}
				errc <- inner.Wait()
			}()
		}()
		return <-errc
	})
	requireEnds(t, bound, s, outer, "the groups")
}

// goroutineLive reports whether goroutine id is alive.
func goroutineLive(id uint64) bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), fmt.Sprintf("goroutine %d [", id))
}

// requireEnds waits for outer's Wait, which must return nil before bound
// ends; what names the groups in the failure, with the scheduler's stats.
func requireEnds(t *testing.T, bound context.Context, s *scheduler.Scheduler, outer *errgroup.Group, what string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- outer.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-bound.Done():
		t.Fatalf("%s hung (stats %+v)", what, s.Stats())
	}
}

// waitFromAStranger waits for g: its name marks the goroutine's stack.
func waitFromAStranger(g *errgroup.Group, done chan<- error) { done <- g.Wait() }

// awaitBlockedIn reports, once some goroutine's stack holds both fn and
// blocked, true; once ctx ends or over says so first, false. It polls the
// stacks: a condition, not a time.
func awaitBlockedIn(ctx context.Context, fn, blocked string, over func() bool) bool {
	buf := make([]byte, 1<<20)
	for ctx.Err() == nil && !over() {
		all := string(buf[:runtime.Stack(buf, true)])
		for _, g := range strings.Split(all, "\n\n") {
			if strings.Contains(g, fn) && strings.Contains(g, blocked) {
				return true
			}
		}
		runtime.Gosched()
	}
	return false
}

// A function of an inner group makes a group with the outer group's
// context (the one it closes over) and waits on it, at cap 1: the wait
// lends the slot of the function that waits, an inner group's. It used to
// look for one among the outer group's functions only, find none it could
// lend (the outer function's slot was lent already, to the inner group),
// lend nothing, and hang (a hostile review, 2026-12-06).
func TestGroupMadeWithTheOuterContextInAnInnerFunctionEnds(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	bound, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	outer, gctxO := errgroup.In(bound, s)
	ran := make(chan struct{})
	outer.Go(func() error {
		inner, _ := errgroup.In(gctxO, s)
		inner.Go(func() error {
			g3, _ := errgroup.In(gctxO, s)
			g3.Go(func() error { close(ran); return nil })
			return g3.Wait()
		})
		return inner.Wait()
	})
	requireEnds(t, bound, s, outer, "the groups")
	select {
	case <-ran:
	default:
		t.Fatal("the innermost function never ran")
	}
	require.NoError(t, s.Wait(bound))
	assert.Zero(t, s.Stats().InUse, "InUse at the end")
}

// An Await made with a group's context on a goroutine whose creator, a
// helper that a function started, has exited: the walk up its ancestors
// breaks there, and the wait lends the slot of one of the group's running
// functions, at cap 1 the one that waits for it; it used to lend nothing
// and hang (the last session's open list, 2026-12-07).
func TestGroupContextAwaitPastAnExitedHelperGoroutineEnds(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	bound, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	outer, gctx := errgroup.In(bound, s)
	outer.Go(func() error {
		h, err := scheduler.Submit(s, func(context.Context) (int, error) { return 7, nil })
		if err != nil {
			return err
		}
		got := make(chan int, 1)
		errc := make(chan error, 1)
		helper := make(chan uint64, 1)
		go func() {
			helper <- goid.ID()
			go func() {
				id := <-helper
				for goroutineLive(id) { // the helper has gone before the wait
					runtime.Gosched()
				}
				v, err := h.Await(gctx)
				got <- v
				errc <- err
			}()
		}()
		if err := <-errc; err != nil {
			return err
		}
		if v := <-got; v != 7 {
			return fmt.Errorf("awaited %d, want 7", v)
		}
		return nil
	})
	requireEnds(t, bound, s, outer, "the group context's Await")
}
