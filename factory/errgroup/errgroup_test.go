package errgroup_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
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

var bg = context.Background()

func newScheduler(t *testing.T, opts ...scheduler.SchedulerOption) *scheduler.Scheduler {
	t.Helper()
	s, err := scheduler.New(append([]scheduler.SchedulerOption{scheduler.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	require.NoError(t, err, "scheduler.New")
	t.Cleanup(func() {
		// Bounded, so that a deadlock fails the test instead of hanging
		// it: past the grace period the tasks are canceled.
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

// bounded ends the test's waits if the code under test deadlocks.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitBounded runs g.Wait and fails the test if it does not return in
// time (a deadlock).
func waitBounded(t *testing.T, g *errgroup.Group) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		return err
	case <-bounded(t).Done():
		t.Fatal("g.Wait() deadlocked")
		return nil
	}
}

func TestZeroGroupWaitReturnsTheFirstErrorUnwrapped(t *testing.T) {
	var g errgroup.Group
	first := errors.New("first")
	proceed := make(chan struct{})
	g.Go(func() error { return first })
	g.Go(func() error { <-proceed; return errors.New("second") })
	g.Go(func() error { return nil })
	// The second error comes after the first is recorded: wait for that
	// through a group of its own.
	var probe errgroup.Group
	probe.Go(func() error { close(proceed); return nil })
	require.NoError(t, probe.Wait(), "probe.Wait()")
	err := g.Wait()
	assert.True(t, err == first || err.Error() == "second", "g.Wait() = %v; want one function's error, unwrapped", err)
}

func TestWithContextCancelsOnTheFirstErrorWithItAsTheCause(t *testing.T) {
	g, ctx := errgroup.WithContext(bg)
	doom := errors.New("doomed")
	g.Go(func() error { <-ctx.Done(); return context.Cause(ctx) })
	g.Go(func() error { return doom })
	assert.Same(t, doom, g.Wait(), "g.Wait()")
	assert.Same(t, doom, context.Cause(ctx), "context.Cause(ctx)")
}

func TestGoBlocksAtTheLimit(t *testing.T) {
	var g errgroup.Group
	g.SetLimit(1)
	var firstDone atomic.Bool
	release := make(chan struct{})
	g.Go(func() error { <-release; firstDone.Store(true); return nil })
	started := make(chan struct{})
	go func() {
		g.Go(func() error { // blocks until the first returns
			if !firstDone.Load() {
				return errors.New("second function ran while the first was active")
			}
			return nil
		})
		close(started)
	}()
	assert.False(t, g.TryGo(func() error { return nil }), "TryGo at the limit")
	close(release)
	<-started
	assert.NoError(t, g.Wait(), "g.Wait()")
}

func TestSetLimitPanicsWhileFunctionsAreActive(t *testing.T) {
	var g errgroup.Group
	g.SetLimit(2)
	release := make(chan struct{})
	g.Go(func() error { <-release; return nil })
	assert.PanicsWithError(t, "errgroup: modify limit while 1 goroutines in the group are still active",
		func() { g.SetLimit(3) }, "SetLimit while active")
	close(release)
	require.NoError(t, g.Wait(), "g.Wait()")
	assert.NotPanics(t, func() { g.SetLimit(3) }, "SetLimit after Wait")
}

func TestSetLimitZeroRefusesEveryTryGo(t *testing.T) {
	var g errgroup.Group
	g.SetLimit(0)
	assert.False(t, g.TryGo(func() error { return nil }), "TryGo with limit 0")
	g.SetLimit(-1)
	assert.True(t, g.TryGo(func() error { return nil }), "TryGo with no limit")
	assert.NoError(t, g.Wait(), "g.Wait()")
}

func TestGoexitEndsAFunctionWithoutAnError(t *testing.T) {
	var g errgroup.Group
	var after atomic.Bool
	g.Go(func() error {
		runtime.Goexit()
		after.Store(true)
		return errors.New("unreachable")
	})
	assert.NoError(t, waitBounded(t, &g), "g.Wait() after a Goexit")
	assert.False(t, after.Load(), "code after Goexit ran")

	doom := errors.New("doomed")
	g.Go(func() error { runtime.Goexit(); return nil })
	g.Go(func() error { return doom })
	assert.Same(t, doom, waitBounded(t, &g), "g.Wait() with a Goexit and an error")
}

// Functions of a Group made with In are tasks of a child scope of the
// scope given: the scope's hooks see them and its cap holds them.
func TestInRunsFunctionsAsTasksOfTheScopeUnderItsCap(t *testing.T) {
	var starts atomic.Int32
	var names sync.Map
	s := newScheduler(t, scheduler.Unlimited(), scheduler.WithHooks(scheduler.Hooks{
		OnStart: func(_ context.Context, sc *scheduler.Scope, h lazytask.Handle) context.Context {
			starts.Add(1)
			names.Store(sc.Name(), true)
			return nil
		},
	}))
	sc, err := s.Root().NewScope(scheduler.WithName("crawl"), scheduler.WithLimit(2))
	require.NoError(t, err, "NewScope")

	g, _ := errgroup.In(bg, sc)
	var running, peak atomic.Int32
	var barrier sync.WaitGroup
	barrier.Add(2)
	var calls atomic.Int32
	for range 8 {
		g.Go(func() error {
			n := running.Add(1)
			defer running.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			if calls.Add(1) <= 2 { // the first two meet: two run at once
				barrier.Done()
				barrier.Wait()
			}
			return nil
		})
	}
	require.NoError(t, waitBounded(t, g), "g.Wait()")
	assert.Equal(t, int32(2), peak.Load(), "the most functions running at once under the scope's cap of 2")
	assert.Equal(t, int32(8), starts.Load(), "task starts the hooks saw")
	_, ok := names.Load("errgroup")
	assert.True(t, ok, "the tasks ran in the group's child scope")
	assert.Empty(t, sc.Snapshot().Children, "the group's child scope after Wait")

	g.Go(func() error { return nil }) // reuse after Wait opens a new round
	require.NoError(t, waitBounded(t, g), "g.Wait() of the second round")
	assert.Equal(t, int32(9), starts.Load(), "task starts the hooks saw")
}

// A task that opens a Group in its own scheduler and waits for it lends its
// slot: on a cap of 1 it would deadlock otherwise, in Wait and in a Go
// blocked at the limit.
func TestInInsideATaskLendsItsSlot(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	outer, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		g, _ := errgroup.In(ctx, s)
		g.SetLimit(1)
		var sum atomic.Int32
		for i := range 4 {
			g.Go(func() error { sum.Add(int32(i)); return nil })
		}
		err := g.Wait()
		return int(sum.Load()), err
	})
	require.NoError(t, err, "Submit(outer)")
	v, err := outer.Await(bounded(t))
	require.NoError(t, err, "outer.Await")
	assert.Equal(t, 6, v, "the sum the group computed")
}

func TestInContextIsCanceledWithTheScope(t *testing.T) {
	s := newScheduler(t)
	sc, err := s.Root().NewScope()
	require.NoError(t, err, "NewScope")
	g, ctx := errgroup.In(bg, sc)
	stop := errors.New("scope canceled")
	g.Go(func() error { <-ctx.Done(); return context.Cause(ctx) })
	sc.Cancel(stop)
	assert.ErrorIs(t, waitBounded(t, g), stop, "g.Wait()")
}

func TestInAClosedScopeReportsTheRefusalFromWait(t *testing.T) {
	s := newScheduler(t)
	sc, err := s.Root().NewScope()
	require.NoError(t, err, "NewScope")
	require.NoError(t, sc.Shutdown(bg), "Shutdown")
	g, _ := errgroup.In(bg, sc)
	var ran atomic.Bool
	g.Go(func() error { ran.Store(true); return nil })
	assert.ErrorIs(t, waitBounded(t, g), scheduler.ErrClosed, "g.Wait()")
	assert.False(t, ran.Load(), "the function ran")
}

func TestInWithANilSpawnerIsWithContext(t *testing.T) {
	g, ctx := errgroup.In(bg, nil)
	g.Go(func() error { return nil })
	assert.NoError(t, g.Wait(), "g.Wait()")
	assert.ErrorIs(t, ctx.Err(), context.Canceled, "ctx after Wait")
}

// A panic in a function crashes the program, as in x/sync's errgroup: the
// test runs itself in a child process to watch that happen.
func TestPanicCrashesTheProgram(t *testing.T) {
	for _, mode := range []string{"zero", "in"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPanic$")
			cmd.Env = append(os.Environ(), "ERRGROUP_PANIC="+mode)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "the child's end: %s", out)
			assert.Equal(t, 2, exit.ExitCode(), "the child's exit code (a crash)")
			assert.Contains(t, string(out), "panic: boom in "+mode, "the child's output")
			assert.Contains(t, string(out), "errgroup_test.panicky", "the crash shows the panicking function's stack")
		})
	}
}

func TestHelperPanic(t *testing.T) {
	mode := os.Getenv("ERRGROUP_PANIC")
	if mode == "" {
		t.Skip("runs as TestPanicCrashesTheProgram's child")
	}
	g := new(errgroup.Group)
	if mode == "in" {
		s, _ := scheduler.New()
		g, _ = errgroup.In(bg, s)
	}
	g.Go(func() error { panicky(mode); return nil })
	_ = g.Wait()
	fmt.Println("survived")
}

//go:noinline
func panicky(mode string) { panic("boom in " + mode) }

// A group made with In inside a function of another one (with that group's
// context, the only one a function has) lends the function's slot while it
// waits: nested groups at cap 1 complete (they deadlocked).
func TestNestedInGroupsCompleteAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	var leaves atomic.Int32
	outer, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		g, gctx := errgroup.In(ctx, s)
		for range 3 {
			g.Go(func() error {
				g2, g2ctx := errgroup.In(gctx, s)
				for range 2 {
					g2.Go(func() error {
						g3, _ := errgroup.In(g2ctx, s)
						g3.Go(func() error { leaves.Add(1); return nil })
						return g3.Wait()
					})
				}
				return g2.Wait()
			})
		}
		return 0, g.Wait()
	})
	require.NoError(t, err, "Submit(outer)")
	_, err = outer.Await(bounded(t))
	require.NoError(t, err, "outer.Await: nested groups at cap 1")
	assert.Equal(t, int32(6), leaves.Load(), "leaves run")
	assert.Zero(t, s.Stats().ForceRuns, "Stats().ForceRuns")
}

// A Group does not recover panics, but a pool that does (pond's, by
// default) must not leave the group waiting forever: the group fails with
// the panic, and Wait returns it.
func TestAPanicRecoveredByThePoolFailsTheGroup(t *testing.T) {
	pool := pond.NewPool(4)
	defer pool.StopAndWait()
	s, err := pondexec.New(pool)
	require.NoError(t, err)
	g, ctx := errgroup.In(context.Background(), s)
	g.Go(func() error { panic("boom") })
	waited := make(chan error, 1)
	go func() { waited <- g.Wait() }()
	select {
	case err := <-waited:
		var pe *lazytask.PanicError
		require.ErrorAs(t, err, &pe, "Wait's error")
		assert.Equal(t, "boom", pe.Value)
		assert.ErrorIs(t, context.Cause(ctx), err, "the group's context's cause")
	case <-time.After(10 * time.Second): // a guard against the hang, not a sync
		// No Shutdown: it would wait for the task left Running forever.
		t.Fatalf("Wait hung after a panic that the pool recovered: %+v", s.Stats())
	}
	assert.Equal(t, 0, s.Stats().Running, "tasks left running")
	require.NoError(t, s.Shutdown(bounded(t)))
}

type inValueKey struct{}

// The tasks of In carry the values of In's context, so that the scope's
// hooks see them (a tracer's span of the task is a child of the caller's),
// but not its cancellation: the group's is the scope's.
func TestInTasksCarryTheValuesOfItsContext(t *testing.T) {
	seen := make(chan any, 2)
	s := newScheduler(t, scheduler.WithHooks(scheduler.Hooks{
		OnStart: func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) context.Context {
			seen <- ctx.Value(inValueKey{})
			return nil
		},
	}))
	ctx, cancel := context.WithCancel(context.WithValue(bg, inValueKey{}, "request 7"))
	g, _ := errgroup.In(ctx, s)
	g.Go(func() error { return nil })
	require.NoError(t, g.Wait())
	assert.Equal(t, "request 7", <-seen, "the value In's context carries, seen by OnStart")

	cancel()

	// Its values alone: a function of a group made with a context that has
	// ended still runs, as in x/sync (were the cancellation carried, its
	// task would end Canceled before it ran).
	ctx2, cancel2 := context.WithCancel(context.WithValue(bg, inValueKey{}, "request 8"))
	cancel2()
	ran := make(chan struct{})
	g2, _ := errgroup.In(ctx2, s)
	g2.Go(func() error { close(ran); return nil })
	require.NoError(t, g2.Wait())
	select {
	case <-ran:
	default:
		t.Fatal("the function of a group whose context had ended did not run")
	}
	assert.Equal(t, "request 8", <-seen)
}
