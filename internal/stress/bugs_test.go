package stress

// Minimal reproductions of the library bugs that the hostile user code of
// the stress driver (hostile.go) found and that are still open. Each test
// is skipped with the reason; the driver counts their symptoms as known
// (Report.Known) unless Config.Strict is set. Remove the t.Skip when the
// bug is fixed: the test then guards the fix.

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// openBugs names the known-bug symptoms (tally.knownBug) of the bugs still
// open: the two below, and the Goexit in flushDeferred of
// scheduler/completion_test.go (TestGoexitInCallbackOfTaskCanceledByFailFastIsContained).
var openBugs = []string{
	"Goexit-on-recovery-goroutine loses the batch",
	"NewTask-OnCreate-Goexit leaves the task Lazy",
	"Goexit-in-flushDeferred",
}

// bugCounts counts calls per task name.
type bugCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *bugCounts) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = make(map[string]int)
	}
	c.n[name]++
}

func (c *bugCounts) get(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

// bugShutdown shuts s down, failing the test if that has not returned
// within bugDeadline (a hang guard, not synchronisation).
func bugShutdown(t *testing.T, s *scheduler.Scheduler) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		require.NoError(t, err, "Shutdown")
	case <-time.After(bugDeadline):
		t.Fatalf("Shutdown = still waiting after %v; want it returned", bugDeadline)
	}
}

// Stress seed 133 (go run -tags lazysched_check ./internal/stress/cmd/stress
// -seed 133 -tasks 20000; the interleaving varies, it fails about one run in
// three): a Scope.Cancel ended 47 queued tasks; the first one's done callback
// called runtime.Goexit and so did its OnDone hook; the callbacks and done
// hooks of the 46 others never ran.
//
// Scheduler.finishOne (scheduler/owner.go), on a Goexit in a callback, goes
// on on a goTracked goroutine with `s.fireDone(c); s.finishOutside(rest)`.
// Nothing protects that goroutine: when a done hook of c calls
// runtime.Goexit there, hookRun contains it for the other hooks of c, but
// the goroutine exits and finishOutside(rest) never runs. Every batch that
// finishOutside finishes is exposed: Scope.Cancel, Shutdown past its grace
// period, Resize failing heavy tasks, a fail-fast scope's cancellation
// (flushDeferred). Awaiters still wake (the results are published), but
// the done callbacks never run (I2) and the OnDone hooks never fire (I11).
func TestBugGoexitInACallbackAndInADoneHookLosesTheRestOfTheBatch(t *testing.T) {
	t.Skip("open bug (found by the stress driver, seed 133): a runtime.Goexit in an OnDone hook on finishOne's recovery goroutine loses the callbacks and done hooks of the later tasks of the batch")
	var hooks bugCounts
	s := bugSched(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			hooks.add(h.Name())
			if h.Name() == "Q1" {
				runtime.Goexit()
			}
		},
	}))
	gate := make(chan struct{})
	started := make(chan struct{})
	holder, err := scheduler.Submit(s, func(context.Context) (int, error) {
		close(started)
		<-gate
		return 0, nil
	}, lazytask.WithName("holder"))
	require.NoError(t, err, "Submit(holder)")
	<-started
	sc, err := s.Root().NewScope()
	require.NoError(t, err, "NewScope")
	var callbacks bugCounts
	names := []string{"Q1", "Q2", "Q3"}
	for _, name := range names {
		q, err := scheduler.Submit(sc, func(context.Context) (int, error) { return 1, nil }, lazytask.WithName(name))
		require.NoErrorf(t, err, "Submit(%s)", name)
		require.Equalf(t, lazytask.Queued, q.State(), "%s.State() behind the holder at cap 1", name)
		q.OnDone(func(int, error) {
			callbacks.add(name)
			if name == "Q1" {
				runtime.Goexit()
			}
		})
	}
	canceled := make(chan struct{})
	go func() {
		defer close(canceled)
		sc.Cancel(errors.New("bug test: cancel"))
	}()
	<-canceled
	close(gate)
	_, err = holder.Await(context.Background())
	require.NoError(t, err, "holder.Await")
	bugShutdown(t, s) // waits for every goroutine of the scheduler: the counts are final
	for _, name := range names {
		assert.Equalf(t, 1, callbacks.get(name), "done callback of %s ran %d times; want 1", name, callbacks.get(name))
		assert.Equalf(t, 1, hooks.get(name), "OnDone hook for %s ran %d times; want 1", name, hooks.get(name))
	}
}

// Stress, every round with hooks (seed 1 -tasks 200000 shows 33): a
// NewTask whose OnCreate hook calls runtime.Goexit leaves its task Lazy
// and bound to no scope. The scope's closing never ends it (I10), nobody
// else holds it, and an awaiter (the hooks saw the handle) waits for ever;
// after Shutdown it is still Lazy (I5).
//
// Submit guards the same hooks (fireBeforeHandoff ends the task with
// lazytask.ErrCallbackGoexit on the way out); NewTask calls sc.fire(c,
// hookCreate) without that guard, before bindLazy.
func TestBugGoexitInTheCreateHookOfNewTaskLeavesItLazy(t *testing.T) {
	t.Skip("open bug (found by the stress driver): NewTask does not guard its OnCreate hooks against runtime.Goexit; the task is left Lazy and unbound for ever")
	var seen atomic.Pointer[lazytask.Task[int]]
	var doneHooks atomic.Int32
	s := bugSched(t, scheduler.WithHooks(scheduler.Hooks{
		OnCreate: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			if t, ok := h.(*lazytask.Task[int]); ok {
				seen.Store(t)
			}
			runtime.Goexit()
		},
		OnDone: func(context.Context, *scheduler.Scope, lazytask.Handle) { doneHooks.Add(1) },
	}))
	returned := make(chan bool, 1)
	go func() {
		ok := false
		defer func() { returned <- ok }()
		scheduler.NewTask(s, func(context.Context) (int, error) { return 1, nil })
		ok = true
	}()
	require.False(t, <-returned, "NewTask returned although its OnCreate hook called runtime.Goexit")
	h := seen.Load()
	require.NotNil(t, h, "the handle as OnCreate saw it")
	bugShutdown(t, s)
	st := h.State()
	assert.Truef(t, st.Terminal(), "after Shutdown the task is %v; want it ended (as Submit does: with ErrCallbackGoexit)", st)
	if st.Terminal() {
		assert.ErrorIs(t, h.Err(), lazytask.ErrCallbackGoexit, "the task's error")
	}
	assert.Equal(t, int32(1), doneHooks.Load(), "OnDone hook calls for the task the hooks saw made")
	if !st.Terminal() {
		h.Cancel(errors.New("bug test: end the stranded task"))
	}
}
