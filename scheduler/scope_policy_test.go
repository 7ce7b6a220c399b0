package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Issue 3, item 2: fail-fast, supervisor and custom handler policies, and
// how a child scope's failure reaches its parent.

func TestScopeFailFastJoinsEveryRealErrorAndDropsTheCancellationsItCaused(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(8))
	g := scChild(t, s.Root(), scheduler.FailFast(), scheduler.WithName("group"), scheduler.WithLimit(4))

	fail := make(chan struct{})
	var started sync.WaitGroup
	started.Add(4)
	failing := func(err error) func(context.Context) (int, error) {
		return func(context.Context) (int, error) {
			started.Done()
			<-fail
			return 0, err
		}
	}
	a, _ := scheduler.Submit(g, failing(scErrA))
	b, _ := scheduler.Submit(g, failing(scErrB))
	// Two siblings that end because of the failure: one returns ctx.Err(),
	// one returns context.Cause(ctx). Neither is a real error.
	errSib, _ := scheduler.Submit(g, func(ctx context.Context) (int, error) {
		started.Done()
		<-ctx.Done()
		return 0, ctx.Err()
	})
	causeSib, _ := scheduler.Submit(g, func(ctx context.Context) (int, error) {
		started.Done()
		<-ctx.Done()
		return 0, fmt.Errorf("stopped: %w", context.Cause(ctx))
	})
	started.Wait()
	var runs atomic.Int32
	queued, err := scheduler.Submit(g, scCount(&runs))
	require.NoError(t, err)
	require.Equal(t, lazytask.Queued, queued.State(), "State() of the fifth task with cap 4")
	close(fail)

	werr := g.Wait(context.Background())
	assert.ErrorIs(t, werr, scErrA, "Wait of the fail-fast scope")
	assert.ErrorIs(t, werr, scErrB, "Wait of the fail-fast scope")
	assert.NotErrorIs(t, werr, context.Canceled, "Wait reports a cancellation the failure caused")
	if n := len(scJoined(werr)); n != 2 {
		t.Errorf("Wait = %d errors joined (%v); want 2", n, werr)
	}
	assert.Equal(t, werr.Error(), g.Err().Error(), "Err() after Wait")

	assert.Equal(t, lazytask.Failed, a.State(), "State() of the task failing with a")
	assert.Equal(t, lazytask.Failed, b.State(), "State() of the task failing with b")
	assert.Equal(t, lazytask.Canceled, errSib.State(), "State() of a sibling returning ctx.Err()")
	assert.Equal(t, lazytask.Canceled, causeSib.State(), "State() of a sibling returning the cause")
	assert.Equal(t, lazytask.Canceled, queued.State(), "State() of the queued sibling")
	assert.Zero(t, runs.Load(), "runs of the queued sibling")
	first := context.Cause(g.Context())
	if !errors.Is(first, scErrA) && !errors.Is(first, scErrB) {
		t.Errorf("context.Cause(scope ctx) = %v; want the first error (a or b)", first)
	}
	_, err = scheduler.Submit(g, scCount(&runs))
	assert.ErrorIs(t, err, scheduler.ErrScopeCanceled, "Submit to a failed fail-fast scope")
}

func TestScopeSupervisorHandsEachFailureToItsHandlerAndSiblingsGoOn(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(4))
	type report struct {
		info lazytask.Info
		err  error
	}
	reports := make(chan report, 200)
	sup := scChild(t, s.Root(), scheduler.WithName("sup"), scheduler.Supervise(func(info lazytask.Info, err error) {
		reports <- report{info, err}
	}))
	sibling, g := scHold(t, sup, lazytask.WithName("sibling"))

	const failures = 100
	wantErr := map[string]error{}
	for i := range failures {
		name := fmt.Sprintf("f%d", i)
		err := fmt.Errorf("task %s: %w", name, scErrA)
		wantErr[name] = err
		_, serr := scheduler.Submit(sup, func(context.Context) (int, error) { return 0, err }, lazytask.WithName(name))
		require.NoError(t, serr)
	}
	for range failures {
		r := <-reports
		want, ok := wantErr[r.info.Name]
		if !ok {
			t.Errorf("handler got a report for task %q; want one of f0..f%d", r.info.Name, failures-1)
			continue
		}
		delete(wantErr, r.info.Name)
		assert.Equal(t, want, r.err, "handler err for %s", r.info.Name)
		assert.Equal(t, lazytask.Failed, r.info.State, "handler info.State for %s", r.info.Name)
		assert.Equal(t, want, r.info.Err, "handler info.Err for %s", r.info.Name)
	}
	assert.Empty(t, wantErr, "failures never reported")

	assert.Equal(t, lazytask.Running, sibling.State(), "sibling State() after 100 failures")
	assert.NoError(t, sup.Context().Err(), "supervisor ctx.Err() after 100 failures")
	assert.NoError(t, sup.Err(), "supervisor Err(): it stores no errors")
	h, err := scheduler.Submit(sup, func(context.Context) (int, error) { return 7, nil })
	require.NoError(t, err, "Submit to a supervisor after failures")
	g.open()
	v, err := h.Await(context.Background())
	assert.Equal(t, 7, v, "Await of a task submitted after failures")
	assert.NoError(t, err)
	assert.NoError(t, sup.Wait(context.Background()), "supervisor Wait")
	assert.Equal(t, lazytask.Succeeded, sibling.State(), "sibling State()")
	require.NoError(t, s.Shutdown(context.Background()))
	assert.Empty(t, reports, "handler calls beyond one per failure")
}

func TestScopeDefaultSupervisorLogsWithTheSchedulersLogger(t *testing.T) {
	logger, buf := scLogger()
	s := scSched(t, scheduler.WithLogger(logger))
	workers := scChild(t, s.Root(), scheduler.WithName("workers"))
	h, err := scheduler.Submit(workers, func(context.Context) (int, error) { return 0, errors.New("disk full") },
		lazytask.WithName("job-7"))
	require.NoError(t, err)
	_, err = h.Await(context.Background())
	require.EqualError(t, err, "disk full")
	_, err = scheduler.Go(s, func(context.Context) error { return errors.New("root job failed") },
		lazytask.WithName("job-root"))
	require.NoError(t, err)
	require.NoError(t, s.Shutdown(context.Background()), "Shutdown of a supervised scheduler")

	out := buf.String()
	for _, want := range []string{
		`level=ERROR msg="lazysched: task failed" scope=workers task.name=job-7 task.scope=workers task.state=failed task.priority=0 err="disk full"`,
		`level=ERROR msg="lazysched: task failed" scope=root task.name=job-root task.scope=root task.state=failed task.priority=0 err="root job failed"`,
	} {
		if !assert.Contains(t, out, want, "log output") {
			t.Logf("log:\n%s", out)
		}
	}
}

func TestScopeFailFastChildReachesAFailFastParentAsOneScopeError(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(8))
	parent := scChild(t, s.Root(), scheduler.FailFast(), scheduler.WithName("parent"))
	child := scChild(t, parent, scheduler.FailFast(), scheduler.WithName("child"))
	parentSib, _ := scUntilCanceled(t, parent)

	fail := make(chan struct{})
	var started sync.WaitGroup
	started.Add(2)
	for _, err := range []error{scErrA, scErrB} {
		_, serr := scheduler.Go(child, func(context.Context) error {
			started.Done()
			<-fail
			return err
		})
		require.NoError(t, serr)
	}
	started.Wait()
	close(fail)

	perr := parent.Wait(context.Background())
	var se *scheduler.ScopeError
	require.ErrorAs(t, perr, &se, "parent Wait")
	assert.Equal(t, "child", se.Scope, "ScopeError.Scope")
	if !errors.Is(perr, scErrA) && !errors.Is(perr, scErrB) {
		t.Errorf("parent Wait = %v; want it to wrap the child's first error", perr)
	}
	if n := len(scJoined(perr)); n != 1 {
		t.Errorf("parent Wait = %d errors (%v); want 1: the child's failure as one error", n, perr)
	}
	cerr := child.Wait(context.Background())
	assert.ErrorIs(t, cerr, scErrA, "child Wait")
	assert.ErrorIs(t, cerr, scErrB, "child Wait")

	assert.Equal(t, lazytask.Canceled, parentSib.State(), "State() of the parent's other task")
	assert.ErrorAs(t, context.Cause(parent.Context()), &se, "context.Cause(parent ctx)")
	_, err := scheduler.Go(parent, func(context.Context) error { return nil })
	assert.ErrorIs(t, err, scheduler.ErrScopeCanceled, "Submit to the parent after the child failed")
	assert.NoError(t, s.Root().Context().Err(), "root ctx.Err(): a supervisor above is not canceled")
}

func TestScopeFailFastChildReachesASupervisorParentsHandlerOnce(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(8))
	type report struct {
		info lazytask.Info
		err  error
	}
	reports := make(chan report, 10)
	parent := scChild(t, s.Root(), scheduler.WithName("parent"), scheduler.Supervise(func(info lazytask.Info, err error) {
		reports <- report{info, err}
	}))
	child := scChild(t, parent, scheduler.FailFast(), scheduler.WithName("child"))
	sibling, g := scHold(t, parent, lazytask.WithName("sibling"))

	fail := make(chan struct{})
	var started sync.WaitGroup
	started.Add(2)
	for _, err := range []error{scErrA, scErrB} {
		_, serr := scheduler.Go(child, func(context.Context) error {
			started.Done()
			<-fail
			return err
		})
		require.NoError(t, serr)
	}
	started.Wait()
	close(fail)

	r := <-reports
	assert.Equal(t, "child", r.info.Name, "handler info.Name")
	var se *scheduler.ScopeError
	require.ErrorAs(t, r.err, &se, "handler err")
	assert.Equal(t, "child", se.Scope, "ScopeError.Scope")
	if !errors.Is(r.err, scErrA) && !errors.Is(r.err, scErrB) {
		t.Errorf("handler err = %v; want it to wrap the child's first error", r.err)
	}
	assert.Equal(t, lazytask.Running, sibling.State(), "the supervisor's other task goes on")
	assert.NoError(t, parent.Context().Err(), "supervisor parent ctx.Err()")
	g.open()
	assert.NoError(t, parent.Wait(context.Background()), "supervisor parent Wait")
	require.NoError(t, s.Shutdown(context.Background()))
	assert.Empty(t, reports, "further handler calls for one failed child scope")
}

func TestScopePanickingErrorHandlerIsContainedAndLogged(t *testing.T) {
	logger, buf := scLogger()
	s := scSched(t, scheduler.WithLogger(logger), scheduler.WithLimit(2))
	sup := scChild(t, s.Root(), scheduler.WithName("touchy"), scheduler.Supervise(func(lazytask.Info, error) {
		panic("handler boom")
	}))
	h, err := scheduler.Go(sup, func(context.Context) error { return scErrA })
	require.NoError(t, err)
	assert.ErrorIs(t, h.Wait(context.Background()), scErrA, "Await of the failing task")
	after, err := scheduler.Submit(sup, func(context.Context) (int, error) { return 5, nil })
	require.NoError(t, err, "Submit after the handler panicked")
	v, err := after.Await(context.Background())
	if v != 5 || err != nil {
		t.Errorf("Await of a task after the handler panicked = %v, %v; want 5, nil", v, err)
	}
	require.NoError(t, s.Shutdown(context.Background()))
	out := buf.String()
	assert.Contains(t, out, `msg="lazysched: error handler panicked" scope=touchy`, "log output")
	assert.Contains(t, out, "handler boom", "log output")
}

// A queued task that a Resize fails (its weight over the new cap) is a
// failure of its scope, as any task's: a fail-fast scope is canceled and
// its Wait returns the error, a supervisor's handler gets it. Neither saw
// it before (a hostile review, 2026-12-07).
func TestATaskFailedByAResizeReachesItsScopesPolicy(t *testing.T) {
	for _, policy := range []string{"fail-fast", "supervise"} {
		t.Run(policy, func(t *testing.T) {
			s := scSched(t, scheduler.WithLimit(4))
			var seen []error
			var mu sync.Mutex
			opt := scheduler.FailFast()
			if policy == "supervise" {
				opt = scheduler.Supervise(func(_ lazytask.Info, err error) {
					mu.Lock()
					seen = append(seen, err)
					mu.Unlock()
				})
			}
			sc := scChild(t, s.Root(), opt, scheduler.WithLimit(3))
			holder, g := scHold(t, sc, lazytask.WithWeight(3))
			heavy, err := scheduler.Go(sc, func(context.Context) error { return nil }, lazytask.WithWeight(3))
			require.NoError(t, err)
			require.NoError(t, sc.Resize(2))
			require.Equal(t, lazytask.Failed, heavy.State())
			require.ErrorIs(t, heavy.Err(), scheduler.ErrWeightTooLarge)
			if policy == "fail-fast" {
				assert.ErrorIs(t, context.Cause(sc.Context()), scheduler.ErrWeightTooLarge, "the scope's cause")
				g.open() // the holder ignores its canceled context
				err := sc.Wait(context.Background())
				assert.ErrorIs(t, err, scheduler.ErrWeightTooLarge, "the fail-fast scope's Wait")
				return
			}
			mu.Lock()
			got := append([]error(nil), seen...)
			mu.Unlock()
			require.Len(t, got, 1, "the handler's calls once Resize returned")
			assert.ErrorIs(t, got[0], scheduler.ErrWeightTooLarge)
			g.open()
			require.NoError(t, holder.Wait(context.Background()))
		})
	}
}

// The handler call for a task that a Resize failed is counted for
// Shutdown's wait: Shutdown returns once the handler has returned. It ran
// uncounted after the Resize's own count was let go (a hostile review of
// the change above, 2026-12-07).
func TestShutdownWaitsForTheHandlerOfATaskAResizeFailed(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(4))
	entered, release := make(chan struct{}), make(chan struct{})
	var handled atomic.Bool
	sc := scChild(t, s.Root(), scheduler.WithLimit(3), scheduler.Supervise(func(lazytask.Info, error) {
		close(entered)
		<-release
		handled.Store(true)
	}))
	_, g := scHold(t, sc, lazytask.WithWeight(3))
	_, err := scheduler.Go(sc, func(context.Context) error { return nil }, lazytask.WithWeight(3))
	require.NoError(t, err)
	go func() { _ = sc.Resize(2) }()
	<-entered
	g.open()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	// Shutdown waits with the handler's goroutine alone left to wait for;
	// or (the bug) it returns.
	for (scheduler.GoroutineWaiters(s) == 0 || scheduler.GoroutinesCounted(s) != 1) && len(shut) == 0 {
		runtime.Gosched()
	}
	assert.Zero(t, len(shut), "Shutdown returned while the handler ran")
	close(release)
	require.NoError(t, <-shut)
	assert.True(t, handled.Load(), "the handler had returned when Shutdown did")
}
