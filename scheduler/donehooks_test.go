package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Done hooks on the done queue's runner (donehooks.go): a task whose done
// hooks are all that follows its end, with a task queued behind it, leaves
// the hooks to the runner and its goroutine goes on with the next task.
// Each test holds the cap-1 slot with a gated task and queues the others
// behind it, so that every end but the last has a task queued: the path
// under test is taken, and the tests check that it was (DoneQueue).

// hdID is the id a task was named with by hdQueue, -1 for any other.
func hdID(h lazytask.Handle) int {
	i, err := strconv.Atoi(h.Name())
	if err != nil {
		return -1
	}
	return i
}

// hdQueue holds the cap-1 slot of s with a gated task (id 0), submits n
// more (ids 1..n) behind it, each named by its id (hdID), and returns them
// all with the gate. spOf, if set, picks each task's spawner; fn, if set,
// may give task i a function of its own.
func hdQueue(t *testing.T, s *scheduler.Scheduler, n int, spOf func(i int) scheduler.Spawner,
	fn func(i int) func(context.Context) (int, error)) ([]*lazytask.Task[int], *gate) {
	t.Helper()
	g := newGate(t)
	sp0 := scheduler.Spawner(s)
	if spOf != nil {
		sp0 = spOf(0)
	}
	first, err := scheduler.Submit(sp0, g.fn, lazytask.WithName("0"))
	require.NoError(t, err)
	cpWithin(t, g.started, "the gated task's start")
	hs := []*lazytask.Task[int]{first}
	for i := 1; i <= n; i++ {
		f := func(context.Context) (int, error) { return i, nil }
		if fn != nil {
			if ff := fn(i); ff != nil {
				f = ff
			}
		}
		sp := scheduler.Spawner(s)
		if spOf != nil {
			sp = spOf(i)
		}
		h, err := scheduler.Submit(sp, f, lazytask.WithName(strconv.Itoa(i)))
		require.NoError(t, err)
		hs = append(hs, h)
	}
	return hs, g
}

// dhCounts counts the done hooks' calls per task id.
type dhCounts struct {
	mu sync.Mutex
	n  map[int]int
}

func (c *dhCounts) add(i int) {
	c.mu.Lock()
	c.n[i]++
	c.mu.Unlock()
}

// each fails the test unless every id in 0..n was counted exactly once.
func (c *dhCounts) each(t *testing.T, n int, what string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; i <= n; i++ {
		assert.Equal(t, 1, c.n[i], "%s: calls for task %d", what, i)
	}
	assert.Len(t, c.n, n+1, "%s: tasks counted", what)
}

// dhAwaitAll awaits every task of hs (failing the test on a hang) and
// returns their errors, joined.
func dhAwaitAll(t *testing.T, hs []*lazytask.Task[int]) error {
	t.Helper()
	var errs []error
	for _, h := range hs {
		_, err := cpAwait(t, h)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func newDhCounts() *dhCounts { return &dhCounts{n: map[int]int{}} }

// Every task's done hook runs once, with the context its start hook gave
// the function, also when the runner runs it; and the next task starts
// while a done hook still waits: a done hook that waits for the next task
// to start does not stop it (I11).
func TestDoneHooksOnTheRunnerSeeTheRunContextAndHoldNothingUp(t *testing.T) {
	counts := newDhCounts()
	const n = 50
	nextStarted := make(chan struct{})
	var seenBad atomic.Int32
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnStart: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
			if hdID(h) == 1 {
				close(nextStarted)
			}
			return context.WithValue(ctx, runCtxKey{}, h) // not its id: task 0 starts before it has one
		},
		OnDone: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			if ctx.Value(runCtxKey{}) != h {
				seenBad.Add(1)
			}
			if i == 0 {
				cpWithin(t, nextStarted, "task 1's start, while task 0's done hook waits for it")
			}
			counts.add(i)
		},
	}))
	hs, g := hdQueue(t, s, n, nil, nil)
	g.open()
	require.NoError(t, dhAwaitAll(t, hs))
	require.NoError(t, s.Shutdown(bounded(t)), "Shutdown waits for the runner")
	counts.each(t, n, "done hooks")
	assert.Zero(t, seenBad.Load(), "done hooks that did not see the start hook's context")
	pushed, _ := scheduler.DoneQueue(s)
	assert.Equal(t, n, pushed, "tasks whose done hooks went to the runner (all but the last)")
}

// A done hook that waits for the done hook of a task that ended after it
// does not wait forever: that hook is queued behind it on the same runner,
// and the watchdog hands the rest of the queue to a new runner.
func TestADoneHookThatWaitsForALaterOneDoesNotHoldItUp(t *testing.T) {
	counts := newDhCounts()
	const n = 4
	twoDone := make(chan struct{})
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			switch i {
			case 0:
				cpWithin(t, twoDone, "task 2's done hook, while task 0's waits for it")
			case 2:
				close(twoDone)
			}
			counts.add(i)
		},
	}))
	hs, g := hdQueue(t, s, n, nil, nil)
	g.open()
	require.NoError(t, dhAwaitAll(t, hs))
	require.NoError(t, s.Shutdown(bounded(t)))
	counts.each(t, n, "done hooks")
	pushed, handed := scheduler.DoneQueue(s)
	assert.Equal(t, n, pushed, "tasks whose done hooks went to the runner")
	assert.GreaterOrEqual(t, handed, 1, "runners handed over (task 2's hook could run no other way)")
}

// A done hook on the runner that calls runtime.Goexit or panics ends only
// its own call: the other hooks of its task, and the hooks of the tasks
// behind it, run once each.
func TestADoneHookOnTheRunnerThatExitsOrPanicsStopsNoOtherHook(t *testing.T) {
	for _, mode := range []string{"goexit", "panic"} {
		t.Run(mode, func(t *testing.T) {
			first, second := newDhCounts(), newDhCounts()
			const n = 12
			s := startScheduler(t, scheduler.WithLimit(1),
				scheduler.WithHooks(scheduler.Hooks{
					OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
						i := hdID(h)
						first.add(i)
						if i%3 == 1 {
							if mode == "goexit" {
								runtime.Goexit()
							}
							panic(fmt.Sprintf("done hook of task %d", i))
						}
					},
				}),
				scheduler.WithHooks(scheduler.Hooks{
					OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { second.add(hdID(h)) },
				}))
			hs, g := hdQueue(t, s, n, nil, nil)
			g.open()
			require.NoError(t, dhAwaitAll(t, hs))
			require.NoError(t, s.Shutdown(bounded(t)))
			first.each(t, n, "first hooks")
			second.each(t, n, "second hooks")
			pushed, _ := scheduler.DoneQueue(s)
			assert.Equal(t, n, pushed, "tasks whose done hooks went to the runner")
		})
	}
}

// A done hook on the runner that shuts the scheduler down: Shutdown cannot
// wait for its own goroutine, but it waits for the hooks queued behind it,
// which a new runner takes over. When it returns, every other task's done
// hook has run.
func TestADoneHookOnTheRunnerThatShutsDownWaitsForTheHooksBehindIt(t *testing.T) {
	counts := newDhCounts()
	const n = 20
	release := make(chan struct{})
	var atReturn atomic.Int64
	atReturn.Store(-1)
	var s *scheduler.Scheduler
	s = startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			if i == 1 {
				_ = s.Shutdown(context.Background())
				counts.mu.Lock()
				atReturn.Store(int64(len(counts.n)))
				counts.mu.Unlock()
				close(release)
			}
			counts.add(i)
		},
	}))
	hs, g := hdQueue(t, s, n, nil, nil)
	g.open()
	require.NoError(t, dhAwaitAll(t, hs))
	cpWithin(t, release, "the Shutdown called from task 1's done hook")
	assert.Equal(t, int64(n), atReturn.Load(), "done hooks run when that Shutdown returned (all but its own)")
	_ = s.Shutdown(bounded(t))
	counts.each(t, n, "done hooks")
}

// Many tasks at cap 2, some of whose done hooks wait for the hook of a task
// 50 ends later: every hook runs exactly once, every wait ends, and
// Shutdown leaves no goroutine behind (goleak, TestMain).
func TestDoneHooksThatWaitForLaterOnesRunOnceEach(t *testing.T) {
	const n = 3000
	counts := newDhCounts()
	fired := make([]chan struct{}, n+1)
	for i := range fired {
		fired[i] = make(chan struct{})
	}
	s := startScheduler(t, scheduler.WithLimit(2), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			if i%100 == 7 && i+50 <= n {
				cpWithin(t, fired[i+50], fmt.Sprintf("task %d's done hook, from task %d's", i+50, i))
			}
			counts.add(i)
			close(fired[i])
		},
	}))
	hs := make([]*lazytask.Task[int], 0, n+1)
	for i := 0; i <= n; i++ {
		h, err := scheduler.Submit(s, func(context.Context) (int, error) { return i, nil }, lazytask.WithName(strconv.Itoa(i)))
		require.NoError(t, err)
		hs = append(hs, h)
	}
	require.NoError(t, dhAwaitAll(t, hs))
	require.NoError(t, s.Shutdown(bounded(t)))
	counts.each(t, n, "done hooks")
	pushed, handed := scheduler.DoneQueue(s)
	t.Logf("done hooks on the runner: %d of %d tasks, %d hand-overs", pushed, n+1, handed)
}
