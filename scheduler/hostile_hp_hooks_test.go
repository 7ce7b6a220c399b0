package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// hpTally counts every hook per handle.
type hpTally struct {
	mu   sync.Mutex
	n    map[lazytask.Handle]*[4]int
	bad  []string
	done chan lazytask.Handle
}

func newHPTally() *hpTally {
	return &hpTally{n: map[lazytask.Handle]*[4]int{}, done: make(chan lazytask.Handle, 1024)}
}

func (tl *hpTally) bump(h lazytask.Handle, k int) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	c := tl.n[h]
	if c == nil {
		c = new([4]int)
		tl.n[h] = c
	}
	c[k]++
	if k > 0 && c[0] == 0 {
		tl.bad = append(tl.bad, fmt.Sprintf("%s: hook %d before OnCreate", h.Name(), k))
	}
	if c[k] > 1 {
		tl.bad = append(tl.bad, fmt.Sprintf("%s: hook %d fired %d times", h.Name(), k, c[k]))
	}
	if k == 3 && !h.Info().State.Terminal() {
		tl.bad = append(tl.bad, fmt.Sprintf("%s: OnDone sees state %v", h.Name(), h.Info().State))
	}
	if k == 2 && c[3] > 0 {
		tl.bad = append(tl.bad, fmt.Sprintf("%s: OnStart after OnDone", h.Name()))
	}
}

func (tl *hpTally) hooks() scheduler.Hooks {
	return scheduler.Hooks{
		OnCreate: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { tl.bump(h, 0) },
		OnQueue:  func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { tl.bump(h, 1) },
		OnStart: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
			tl.bump(h, 2)
			return nil
		},
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { tl.bump(h, 3); tl.done <- h },
	}
}

// waitDone waits for OnDone of h (hang guard only).
func (tl *hpTally) check(t *testing.T, hs ...lazytask.Handle) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for _, h := range hs {
		for {
			tl.mu.Lock()
			c := tl.n[h]
			ok := c != nil && c[3] >= 1
			tl.mu.Unlock()
			if ok {
				break
			}
			select {
			case <-tl.done:
			case <-deadline:
				t.Fatalf("%s (%v): OnDone never fired; counts %v", h.Name(), h.Info().State, c)
			}
		}
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	require.Empty(t, tl.bad)
}

// Hooks that act on their very task, or on the scheduler, each in a
// scheduler of its own: every hook fires at most once per task, none after
// OnDone, OnDone exactly once for every task OnCreate saw, nothing hangs.
func TestHostileHPHooksActingOnTheirTask(t *testing.T) {
	fn := func(ctx context.Context) (int, error) { return 1, ctx.Err() }
	cause := errors.New("hP cause")
	// Closed once the OnDone hook below has submitted and shut down: the
	// test's own Shutdown must come after, or the hook's Submit is refused.
	onDoneActed := make(chan struct{})
	for _, tc := range []struct {
		name  string
		hooks func(s **scheduler.Scheduler) scheduler.Hooks
		check func(t *testing.T, h *lazytask.Task[int], err error)
	}{
		{"OnCreate shuts the scheduler down", func(s **scheduler.Scheduler) scheduler.Hooks {
			return scheduler.Hooks{OnCreate: func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) {
				require.NoError(t, (*s).Shutdown(bg))
			}}
		}, func(t *testing.T, h *lazytask.Task[int], err error) {
			require.ErrorIs(t, err, scheduler.ErrClosed)
			require.Equal(t, lazytask.Canceled, h.State())
		}},
		{"OnQueue cancels its scope", func(s **scheduler.Scheduler) scheduler.Hooks {
			return scheduler.Hooks{OnQueue: func(ctx context.Context, sc *scheduler.Scope, _ lazytask.Handle) { sc.Cancel(cause) }}
		}, func(t *testing.T, h *lazytask.Task[int], err error) {
			require.ErrorIs(t, err, scheduler.ErrScopeCanceled)
			require.Equal(t, lazytask.Canceled, h.State())
		}},
		{"OnCreate cancels the task", func(s **scheduler.Scheduler) scheduler.Hooks {
			return scheduler.Hooks{OnCreate: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) { require.True(t, h.Cancel(cause)) }}
		}, func(t *testing.T, h *lazytask.Task[int], err error) {
			require.ErrorIs(t, err, scheduler.ErrNotQueued)
			require.ErrorIs(t, h.Err(), cause)
		}},
		{"OnStart cancels the task", func(s **scheduler.Scheduler) scheduler.Hooks {
			return scheduler.Hooks{OnStart: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
				require.True(t, h.Cancel(cause))
				require.ErrorIs(t, context.Cause(ctx), cause, "the hook's own context sees its cancel")
				return nil
			}}
		}, func(t *testing.T, h *lazytask.Task[int], err error) {
			require.NoError(t, err)
			_, err = h.Await(bg)
			require.ErrorIs(t, err, cause)
			require.Equal(t, lazytask.Canceled, h.State())
		}},
		{"OnStart force-runs, promotes, starts and enqueues its running task", func(s **scheduler.Scheduler) scheduler.Hooks {
			return scheduler.Hooks{OnStart: func(ctx context.Context, sc *scheduler.Scope, h lazytask.Handle) context.Context {
				require.Equal(t, lazytask.Running, h.State())
				require.ErrorIs(t, sc.Force(h), scheduler.ErrNotQueued)
				require.ErrorIs(t, (*s).Promote(h), scheduler.ErrNotQueued)
				require.Error(t, sc.Enqueue(h))
				return nil
			}}
		}, func(t *testing.T, h *lazytask.Task[int], err error) {
			require.NoError(t, err)
			v, err := h.Await(bg)
			require.NoError(t, err)
			require.Equal(t, 1, v)
		}},
		{"OnDone cancels, starts, submits and shuts down", func(s **scheduler.Scheduler) scheduler.Hooks {
			var first atomic.Bool // not a sync.Once: the OnDone of the task it submits must not wait for this one's
			return scheduler.Hooks{OnDone: func(ctx context.Context, sc *scheduler.Scope, h lazytask.Handle) {
				require.False(t, h.Cancel(cause))
				require.True(t, h.Info().State.Terminal())
				if first.CompareAndSwap(false, true) {
					_, err := scheduler.Submit(sc, fn, lazytask.WithName("from OnDone"))
					require.NoError(t, err)
					require.NoError(t, (*s).Shutdown(bg))
					close(onDoneActed)
				}
			}}
		}, func(t *testing.T, h *lazytask.Task[int], err error) {
			require.NoError(t, err)
			require.NoError(t, h.Wait(bg))
			// Wait returns before the task's done hooks have run.
			select {
			case <-onDoneActed:
			case <-time.After(10 * time.Second):
				t.Fatal("the OnDone hook did not submit and shut down")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := newHPTally()
			var s *scheduler.Scheduler
			s = startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(tl.hooks()), scheduler.WithHooks(tc.hooks(&s)))
			done := make(chan struct{})
			var h *lazytask.Task[int]
			var err error
			go func() {
				defer close(done)
				h, err = scheduler.Submit(s, fn, lazytask.WithName("the task"))
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Submit hung")
			}
			tc.check(t, h, err)
			tl.check(t, h)
			// Shutdown waits for every OnDone (those of a task an OnDone
			// submitted too), and then each handle seen has had its own.
			if err := s.Shutdown(bounded(t)); err != nil {
				require.ErrorIs(t, err, scheduler.ErrClosed, "a Shutdown after the hook's") // not the bound's end
			}
			tl.mu.Lock()
			var hs []lazytask.Handle
			for x := range tl.n {
				hs = append(hs, x)
			}
			tl.mu.Unlock()
			tl.check(t, hs...)
		})
	}
}
