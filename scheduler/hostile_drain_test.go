package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Hostile tests of Shutdown's drain of a backlog, where ended tasks' done
// hooks go to the done queue and goroutines park between tasks: the grace
// period ending mid-drain, Shutdown called twice and from a hook, done
// callbacks that submit, Await at cap 1, panics and Goexits in hooks,
// child scopes canceled mid-drain, and GOMAXPROCS=1.

// drainTally counts, per task id, the done hooks and done callbacks that
// ran, and the tasks running at once.
type drainTally struct {
	hooks, cbs *dhCounts
	running    atomic.Int32
	most       atomic.Int32
}

func newDrainTally() *drainTally { return &drainTally{hooks: newDhCounts(), cbs: newDhCounts()} }

func (d *drainTally) enter() {
	n := d.running.Add(1)
	for m := d.most.Load(); n > m && !d.most.CompareAndSwap(m, n); m = d.most.Load() {
	}
}

func (d *drainTally) leave() { d.running.Add(-1) }

// withProcs runs f at GOMAXPROCS=procs (0: as it is).
func withProcs(t *testing.T, procs int, f func(t *testing.T)) {
	if procs > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	}
	f(t)
}

// The grace period ends while the drain is half done: the tasks before the
// blocker succeeded, the blocker saw its context canceled, the rest ended
// Canceled with ErrClosed; every done hook and done callback ran exactly
// once, the cap held, and nothing outlives Shutdown.
func TestHostileDrainGraceEndsMidDrain(t *testing.T) {
	for _, procs := range []int{0, 1} {
		t.Run(fmt.Sprintf("procs=%d", procs), func(t *testing.T) {
			withProcs(t, procs, func(t *testing.T) {
				defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
				const n, blocker = 1500, 700
				d := newDrainTally()
				s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
					OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { d.hooks.add(hdID(h)) },
				}))
				require.NoError(t, err)
				grace, endGrace := context.WithCancelCause(context.Background())
				defer endGrace(nil)
				graceOver := errors.New("grace over")
				hs, g := hdQueue(t, s, n, nil, func(i int) func(context.Context) (int, error) {
					return func(ctx context.Context) (int, error) {
						d.enter()
						defer d.leave()
						if i == blocker {
							endGrace(graceOver)
							<-ctx.Done()
							return i, context.Cause(ctx)
						}
						return i, nil
					}
				})
				for i, h := range hs {
					h.OnDone(func(int, error) { d.cbs.add(i) })
				}
				shut := make(chan error, 1)
				go func() { shut <- s.Shutdown(grace) }()
				scheduler.AwaitWaiting(s.Root())
				g.open()
				var serr error
				select {
				case serr = <-shut:
				case <-t.Context().Done():
					t.Fatal("Shutdown never returned")
				}
				assert.ErrorIs(t, serr, graceOver, "Shutdown returns the grace period's cause")
				for i, h := range hs {
					v, err := cpAwait(t, h)
					switch {
					case i < blocker:
						require.NoError(t, err, "task %d ran before the grace period ended", i)
						require.Equal(t, i, v)
					case i == blocker:
						require.ErrorIs(t, err, scheduler.ErrClosed, "the running task saw Shutdown's cause")
					default:
						require.Equal(t, lazytask.Canceled, h.State(), "task %d queued past the grace period", i)
						require.ErrorIs(t, err, scheduler.ErrClosed, "task %d", i)
					}
				}
				d.hooks.each(t, n, "done hooks")
				d.cbs.each(t, n, "done callbacks")
				assert.LessOrEqual(t, d.most.Load(), int32(1), "tasks running at once at cap 1")
			})
		})
	}
}

// Done callbacks and done hooks that submit while the drain runs get
// ErrClosed, and the handle they get back, if any, has ended: no task is
// lost or left queued.
func TestHostileDrainSubmitsFromCallbacksAreRefused(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const n = 800
	var refused, accepted atomic.Int32
	var mu sync.Mutex
	var late []*lazytask.Task[int]
	var s *scheduler.Scheduler
	trySubmit := func() {
		h, err := scheduler.Submit(s, func(context.Context) (int, error) { return -1, nil })
		if errors.Is(err, scheduler.ErrClosed) {
			refused.Add(1)
		} else {
			accepted.Add(1)
		}
		if h != nil {
			mu.Lock()
			late = append(late, h)
			mu.Unlock()
		}
	}
	var err error
	s, err = scheduler.New(scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			// A refused submit's handle ends too, and its done hook runs:
			// only the queued tasks' hooks submit, or the test loops.
			if hdID(h) >= 0 {
				trySubmit()
			}
		},
	}))
	require.NoError(t, err)
	hs, g := hdQueue(t, s, n, nil, nil)
	for _, h := range hs {
		h.OnDone(func(int, error) { trySubmit() })
	}
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	scheduler.AwaitWaiting(s.Root())
	g.open()
	require.NoError(t, <-shut)
	require.NoError(t, dhAwaitAll(t, hs))
	assert.EqualValues(t, 2*(n+1), refused.Load(), "every submit after Shutdown began was refused with ErrClosed")
	assert.Zero(t, accepted.Load(), "submits accepted after Shutdown began")
	for _, h := range late {
		assert.True(t, h.State().Terminal(), "a refused submit's handle has ended (state %v)", h.State())
	}
}

// Two Shutdowns race while the drain runs and a done hook calls a third:
// all three return, the later ones ErrClosed, and every task ended once
// with its hook and callback run once.
func TestHostileDrainShutdownTwiceAndFromAHook(t *testing.T) {
	for _, procs := range []int{0, 1} {
		t.Run(fmt.Sprintf("procs=%d", procs), func(t *testing.T) {
			withProcs(t, procs, func(t *testing.T) {
				defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
				const n, caller = 1000, 300
				d := newDrainTally()
				var s *scheduler.Scheduler
				fromHook := make(chan error, 1)
				var err error
				s, err = scheduler.New(scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
					OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
						id := hdID(h)
						d.hooks.add(id)
						if id == caller {
							fromHook <- s.Shutdown(context.Background())
						}
					},
				}))
				require.NoError(t, err)
				hs, g := hdQueue(t, s, n, nil, nil)
				for i, h := range hs {
					h.OnDone(func(int, error) { d.cbs.add(i) })
				}
				first, second := make(chan error, 1), make(chan error, 1)
				go func() { first <- s.Shutdown(context.Background()) }()
				scheduler.AwaitWaiting(s.Root())
				go func() { second <- s.Shutdown(context.Background()) }()
				g.open()
				errs := []error{<-first, <-second, <-fromHook}
				closed := 0
				for _, e := range errs {
					if e != nil {
						require.ErrorIs(t, e, scheduler.ErrClosed)
						closed++
					}
				}
				assert.GreaterOrEqual(t, closed, 2, "the later Shutdowns return ErrClosed: %v", errs)
				for i, h := range hs {
					_, err := cpAwait(t, h)
					if err != nil {
						require.ErrorIs(t, err, scheduler.ErrClosed, "task %d", i)
						require.Equal(t, lazytask.Canceled, h.State(), "task %d", i)
					}
				}
				d.hooks.each(t, n, "done hooks")
				d.cbs.each(t, n, "done callbacks")
			})
		})
	}
}

// At cap 1, during the drain, each task awaits the task queued right
// behind it: the wait lends the slot, so the chain completes, in order of
// the waits, without exceeding the cap by more than the lent slot.
func TestHostileDrainAwaitsTheNextQueuedTaskAtCap1(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const n = 200
	var hs []*lazytask.Task[int]
	ready := make(chan struct{})
	d := newDrainTally()
	s, err := scheduler.New(scheduler.WithLimit(1))
	require.NoError(t, err)
	hs, g := hdQueue(t, s, n, nil, func(i int) func(context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			<-ready
			if i < n {
				v, err := hs[i+1].Await(ctx)
				if err != nil {
					return 0, err
				}
				return v + 1, nil
			}
			return 0, nil
		}
	})
	for i, h := range hs {
		h.OnDone(func(int, error) { d.cbs.add(i) })
	}
	close(ready)
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	scheduler.AwaitWaiting(s.Root())
	g.open()
	require.NoError(t, <-shut)
	for i := 1; i <= n; i++ {
		v, err := cpAwait(t, hs[i])
		require.NoError(t, err, "task %d", i)
		require.Equal(t, n-i, v, "task %d saw the chain behind it", i)
	}
	d.cbs.each(t, n, "done callbacks")
}

// Done hooks that panic or call runtime.Goexit during the drain: each hook
// is still called exactly once, the other hooks and every callback run,
// and Shutdown returns with nothing left behind.
func TestHostileDrainHooksPanicAndGoexit(t *testing.T) {
	for _, procs := range []int{0, 1} {
		t.Run(fmt.Sprintf("procs=%d", procs), func(t *testing.T) {
			withProcs(t, procs, func(t *testing.T) {
				defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
				const n = 1200
				d := newDrainTally()
				second := newDhCounts()
				s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
					scheduler.WithHooks(scheduler.Hooks{
						OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
							id := hdID(h)
							d.hooks.add(id)
							switch {
							case id%7 == 3:
								runtime.Goexit()
							case id%2 == 1:
								panic(fmt.Sprintf("hook of %d", id))
							}
						},
					}),
					scheduler.WithHooks(scheduler.Hooks{
						OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { second.add(hdID(h)) },
					}))
				require.NoError(t, err)
				hs, g := hdQueue(t, s, n, nil, nil)
				for i, h := range hs {
					h.OnDone(func(int, error) { d.cbs.add(i) })
				}
				shut := make(chan error, 1)
				go func() { shut <- s.Shutdown(context.Background()) }()
				scheduler.AwaitWaiting(s.Root())
				g.open()
				require.NoError(t, <-shut)
				require.NoError(t, dhAwaitAll(t, hs))
				d.hooks.each(t, n, "the hook that panics or exits")
				second.each(t, n, "the hook registered after it")
				d.cbs.each(t, n, "done callbacks")
			})
		})
	}
}

// Child scopes with caps of their own, drained by the scheduler's
// Shutdown, while a done callback cancels one of them: that scope's queued
// tasks end Canceled and never run, the others run, no level's cap is
// exceeded, and every callback runs once.
func TestHostileDrainCancelsAChildScopeMidDrain(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const scopes, per = 4, 300
	s, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(context.Context, *scheduler.Scope, lazytask.Handle) {},
	}))
	require.NoError(t, err)
	root := newDrainTally()
	kids := make([]*scheduler.Scope, scopes)
	tallies := make([]*drainTally, scopes)
	for k := range kids {
		kids[k], err = s.Root().NewScope(scheduler.WithName(fmt.Sprint("kid", k)), scheduler.WithLimit(1))
		require.NoError(t, err)
		tallies[k] = newDrainTally()
	}
	h0, g := hold(t, s)
	h1, g1 := hold(t, s)
	victim := errors.New("victim")
	ran := make([]atomic.Bool, scopes*per)
	type tk struct {
		h *lazytask.Task[int]
		k int
	}
	var all []tk
	for i := range per {
		for k, sc := range kids {
			id := len(all)
			h, err := scheduler.Submit(sc, func(context.Context) (int, error) {
				root.enter()
				tallies[k].enter()
				defer root.leave()
				defer tallies[k].leave()
				ran[id].Store(true)
				return i, nil
			}, lazytask.WithName(fmt.Sprint(len(all))))
			require.NoError(t, err)
			if k == 0 && i == per/3 {
				h.OnDone(func(int, error) {
					root.cbs.add(id)
					kids[2].Cancel(victim)
				})
			} else {
				h.OnDone(func(int, error) { root.cbs.add(id) })
			}
			all = append(all, tk{h, k})
		}
	}
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	scheduler.AwaitWaiting(s.Root())
	g.open()
	g1.open()
	serr := <-shut
	if serr != nil {
		assert.ErrorIs(t, serr, victim, "Shutdown reports only the canceled scope")
	}
	_, err = cpAwait(t, h0)
	require.NoError(t, err)
	_, err = cpAwait(t, h1)
	require.NoError(t, err)
	for i, x := range all {
		_, err := cpAwait(t, x.h)
		if x.k != 2 {
			require.NoError(t, err, "task %d of kid %d", i, x.k)
			continue
		}
		if err != nil {
			require.Equal(t, lazytask.Canceled, x.h.State(), "task %d of the canceled kid", i)
			require.ErrorIs(t, err, victim)
			require.False(t, ran[i].Load(), "task %d ended Canceled, yet its function ran", i)
		}
	}
	root.cbs.each(t, scopes*per-1, "done callbacks")
	assert.LessOrEqual(t, root.most.Load(), int32(2), "tasks at once under the root's cap of 2")
	for k, tl := range tallies {
		assert.LessOrEqual(t, tl.most.Load(), int32(1), "tasks at once in kid %d (cap 1)", k)
	}
}
