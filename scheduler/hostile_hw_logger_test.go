package scheduler_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// hwBadHandler is a slog.Handler that panics (or calls runtime.Goexit) on
// every record: a logger is user code like a hook, and the scheduler logs
// from a task's end path.
type hwBadHandler struct{ goexit bool }

func (hwBadHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h hwBadHandler) Handle(context.Context, slog.Record) error {
	if h.goexit {
		runtime.Goexit()
	}
	panic("hW: log handler panics")
}
func (h hwBadHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h hwBadHandler) WithGroup(string) slog.Handler      { return h }

func hwWithin(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("hang guard: %s", what)
	}
}

// TestHostileHWLoggerHandlerMisbehaves: a scheduler whose logger's handler
// panics or calls runtime.Goexit, on every path that logs (the default
// supervisor's report of a failed task, a panicking hook, a panicking done
// callback, a panicking error handler), must not crash the process nor lose
// the task's end: its done hooks run, the scheduler keeps running tasks,
// and Shutdown returns.
func TestHostileHWLoggerHandlerMisbehaves(t *testing.T) {
	for _, goexit := range []bool{false, true} {
		name := "panics"
		if goexit {
			name = "goexit"
		}
		t.Run(name, func(t *testing.T) {
			doneHook := make(chan string, 16)
			s, err := scheduler.New(scheduler.WithLogger(slog.New(hwBadHandler{goexit: goexit})), scheduler.WithLimit(1),
				scheduler.WithHooks(scheduler.Hooks{OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
					doneHook <- h.Name()
				}}))
			require.NoError(t, err)

			// The default supervisor logs the failure.
			failed, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { return 0, errors.New("hW: boom") }, lazytask.WithName("failed"))
			require.NoError(t, err)
			hwWithin(t, failed.Done(), "failed task ended")
			select {
			case n := <-doneHook:
				assert.Equal(t, "failed", n)
			case <-time.After(10 * time.Second):
				t.Fatal("hang guard: the done hook of a task whose failure the logger choked on never ran")
			}

			// A panicking error handler of a child scope is logged.
			child, err := s.Root().NewScope(scheduler.WithName("child"), scheduler.Supervise(func(lazytask.Info, error) { panic("hW: handler panics") }))
			require.NoError(t, err)
			failed2, err := scheduler.Submit(child, func(ctx context.Context) (int, error) { return 0, errors.New("hW: boom 2") }, lazytask.WithName("failed2"))
			require.NoError(t, err)
			hwWithin(t, failed2.Done(), "failed2 ended")
			select {
			case n := <-doneHook:
				assert.Equal(t, "failed2", n)
			case <-time.After(10 * time.Second):
				t.Fatal("hang guard: done hook of failed2")
			}

			// A done callback that panics is logged.
			cb, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { return 1, nil }, lazytask.WithName("cb"))
			require.NoError(t, err)
			cb.OnDone(func(int, error) { panic("hW: callback panics") })
			hwWithin(t, cb.Done(), "cb ended")
			select {
			case n := <-doneHook:
				assert.Equal(t, "cb", n)
			case <-time.After(10 * time.Second):
				t.Fatal("hang guard: done hook of cb")
			}

			// A hook that panics is logged; the task still runs, and the
			// hooks after it still fire.
			hooked, err := s.Root().NewScope(scheduler.WithName("hooked"), scheduler.WithHooks(scheduler.Hooks{
				OnStart: func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) context.Context {
					panic("hW: hook panics")
				},
			}))
			require.NoError(t, err)
			hk, err := scheduler.Submit(hooked, func(ctx context.Context) (int, error) { return 3, nil }, lazytask.WithName("hk"))
			require.NoError(t, err)
			hwWithin(t, hk.Done(), "hk ended")
			v3, err := hk.Result()
			require.NoError(t, err)
			assert.Equal(t, 3, v3)
			select {
			case n := <-doneHook:
				assert.Equal(t, "hk", n)
			case <-time.After(10 * time.Second):
				t.Fatal("hang guard: done hook of hk")
			}

			// The scheduler still runs tasks.
			ok, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { return 7, nil }, lazytask.WithName("ok"))
			require.NoError(t, err)
			hwWithin(t, ok.Done(), "a task after the logger choked")
			v, err := ok.Result()
			require.NoError(t, err)
			assert.Equal(t, 7, v)

			shut := make(chan struct{})
			go func() { defer close(shut); _ = s.Shutdown(bg) }()
			hwWithin(t, shut, "Shutdown")
			st := s.Stats()
			assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected+uint64(st.Queued+st.Running+st.Lazy), "Stats identity: %+v", st)
			assert.Zero(t, st.InUse, "slots left in use: %+v", st)
		})
	}
}
