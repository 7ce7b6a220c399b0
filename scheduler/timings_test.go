package scheduler_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Timings are kept only when something asks for them (issue 14: no clock
// read per task otherwise): the scheduler's WithTimings, the task's own
// WithTimings, hooks on its scope that ask (Hooks.Timings), aging.
func TestTasksKeepTimingsOnlyWhenAskedFor(t *testing.T) {
	noop := func(context.Context) (int, error) { return 0, nil }
	run := func(t *testing.T, sp scheduler.Spawner, opts ...lazytask.Option) lazytask.Timings {
		t.Helper()
		h, err := scheduler.Submit(sp, noop, opts...)
		require.NoError(t, err, "Submit")
		_, err = h.Await(bg)
		require.NoError(t, err, "Await")
		return h.Timings()
	}
	full := func(t *testing.T, what string, tm lazytask.Timings) {
		t.Helper()
		for step, at := range map[string]bool{"Created": tm.Created.IsZero(), "Queued": tm.Queued.IsZero(), "Started": tm.Started.IsZero(), "Finished": tm.Finished.IsZero()} {
			assert.False(t, at, "%s: Timings().%s is zero", what, step)
		}
		assert.False(t, tm.Started.Before(tm.Queued), "%s: started %v before queued %v", what, tm.Started, tm.Queued)
		assert.False(t, tm.Finished.Before(tm.Started), "%s: finished %v before started %v", what, tm.Finished, tm.Started)
	}

	plain := startScheduler(t, scheduler.WithLimit(2))
	assert.Equal(t, lazytask.Timings{}, run(t, plain), "Timings() of a task of a scheduler that keeps none")
	full(t, "lazytask.WithTimings", run(t, plain, lazytask.WithTimings()))

	onStart := func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) context.Context { return ctx }
	hooked, err := plain.Root().NewScope(scheduler.WithHooks(scheduler.Hooks{OnStart: onStart}))
	require.NoError(t, err, "NewScope with hooks")
	assert.Equal(t, lazytask.Timings{}, run(t, hooked), "Timings() in a scope whose hooks did not ask for them")
	timedHooks, err := hooked.NewScope(scheduler.WithHooks(scheduler.Hooks{OnStart: onStart, Timings: true}))
	require.NoError(t, err, "NewScope with hooks that ask for timings")
	full(t, "a scope with hooks that ask for timings", run(t, timedHooks))
	below, err := timedHooks.NewScope()
	require.NoError(t, err, "NewScope below")
	full(t, "a scope below hooks that ask for timings", run(t, below))
	assert.Equal(t, lazytask.Timings{}, run(t, plain), "Timings() beside a scope with timed hooks")

	full(t, "scheduler.WithTimings", run(t, startScheduler(t, scheduler.WithLimit(2), scheduler.WithTimings())))
	full(t, "scheduler.WithAging", run(t, startScheduler(t, scheduler.WithLimit(2), scheduler.WithAging(1))))

	// A task made elsewhere without timings and handed to a scheduler
	// that keeps them has all but its creation.
	s := startScheduler(t, scheduler.WithLimit(2), scheduler.WithTimings())
	foreign := lazytask.New(noop)
	require.NoError(t, s.Enqueue(foreign), "Enqueue")
	_, err = foreign.Await(bg)
	require.NoError(t, err)
	tm := foreign.Timings()
	assert.True(t, tm.Created.IsZero(), "Created of a task made without timings: %v", tm.Created)
	assert.False(t, tm.Queued.IsZero() || tm.Started.IsZero() || tm.Finished.IsZero(), "the other timings of a handed-over task: %+v", tm)
}

// FIFO across scopes needs no clock: each queued task takes the next
// number of one count, on the lock-free path as on the locked one.
func TestFIFOAcrossScopesWithoutTimings(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	a, err := s.Root().NewScope(scheduler.WithName("a"))
	require.NoError(t, err)
	b, err := s.Root().NewScope(scheduler.WithName("b"))
	require.NoError(t, err)
	_, g := hold(t, s)
	var log runLog
	var hs []*lazytask.Task[int]
	for i, sp := range []*scheduler.Scope{a, b, a, b, b, a} {
		name := string(rune('0' + i))
		h, err := scheduler.Submit(sp, func(context.Context) (int, error) { log.add(name); return 0, nil })
		require.NoError(t, err)
		hs = append(hs, h)
	}
	g.open()
	for _, h := range hs {
		_, err := h.Await(bg)
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"0", "1", "2", "3", "4", "5"}, log.get(), "start order across two scopes")
}

// A queued task that keeps no timings shows age 0 in a snapshot, not the
// time since the zero time.
func TestSnapshotAgeOfATaskWithoutTimingsIsZero(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s, lazytask.WithName("holder"))
	_, err := scheduler.Submit(s, func(context.Context) (int, error) { return 0, nil }, lazytask.WithName("queued"))
	require.NoError(t, err)
	snap := s.Snapshot()
	require.Len(t, snap.Tasks, 2)
	for _, ts := range snap.Tasks {
		assert.Zero(t, ts.Age, "Snapshot age of %q, which keeps no timings", ts.Name)
	}
	g.open()
}

// Many scopes, tasks submitted to them in a random order through the
// lock-free inbox path (the cap is held), some with a higher priority:
// they start by priority, then in submission order, across every scope.
// The inboxes are drained a batch at a time, the scopes in the order they
// were listed, and the admission order keeps scopes that come in order in
// a run and the rest in a heap (ready.go): both must give this order.
func TestPriorityThenFIFOAcrossManyScopes(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	scs := make([]*scheduler.Scope, 40)
	for i := range scs {
		var err error
		scs[i], err = s.Root().NewScope()
		require.NoError(t, err)
	}
	_, g := hold(t, s)
	r := rand.New(rand.NewPCG(1, 2))
	var log runLog
	var hs []*lazytask.Task[int]
	var hi, lo []string
	for i := range 600 {
		name := strconv.Itoa(i)
		var opts []lazytask.Option
		if r.IntN(8) == 0 {
			opts = append(opts, lazytask.WithPriority(1))
			hi = append(hi, name)
		} else {
			lo = append(lo, name)
		}
		h, err := scheduler.Submit(scs[r.IntN(len(scs))], func(context.Context) (int, error) { log.add(name); return 0, nil }, opts...)
		require.NoError(t, err)
		hs = append(hs, h)
	}
	g.open()
	for _, h := range hs {
		_, err := h.Await(bg)
		require.NoError(t, err)
	}
	assert.Equal(t, append(hi, lo...), log.get(), "start order: priority, then submission, across 40 scopes")
}
