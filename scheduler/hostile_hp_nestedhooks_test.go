package scheduler_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

type hpHookKey string

// Hooks on a parent and on its child scope: for a task of the child the
// parent's hooks fire first, each once; the child's OnStart gets the
// context the parent's returned, and the function and both OnDone hooks
// get the child's, which still names the task (HandleOf) and sees the
// cancellation of the task.
func TestHostileHPNestedHooksChainTheirContexts(t *testing.T) {
	var mu sync.Mutex
	var order []string
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	parentHooks := scheduler.Hooks{
		OnCreate: func(context.Context, *scheduler.Scope, lazytask.Handle) { note("p.create") },
		OnQueue:  func(context.Context, *scheduler.Scope, lazytask.Handle) { note("p.queue") },
		OnStart: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
			note("p.start")
			return context.WithValue(ctx, hpHookKey("p"), "parent")
		},
		OnDone: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			note("p.done:" + ctx.Value(hpHookKey("c")).(string))
		},
	}
	childHooks := scheduler.Hooks{
		OnCreate: func(context.Context, *scheduler.Scope, lazytask.Handle) { note("c.create") },
		OnQueue:  func(context.Context, *scheduler.Scope, lazytask.Handle) { note("c.queue") },
		OnStart: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
			v, _ := ctx.Value(hpHookKey("p")).(string)
			note("c.start:" + v)
			return context.WithValue(ctx, hpHookKey("c"), "child")
		},
		OnDone: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			note("c.done:" + ctx.Value(hpHookKey("c")).(string))
		},
	}
	s := startScheduler(t, scheduler.WithHooks(parentHooks))
	child, err := s.Root().NewScope(scheduler.WithHooks(childHooks))
	require.NoError(t, err)
	started := make(chan struct{})
	h, err := scheduler.Submit(child, func(ctx context.Context) (string, error) {
		require.Equal(t, "parent", ctx.Value(hpHookKey("p")))
		require.NotNil(t, lazytask.HandleOf(ctx))
		close(started)
		<-ctx.Done()
		return ctx.Value(hpHookKey("c")).(string), context.Cause(ctx)
	})
	require.NoError(t, err)
	<-started
	h.Cancel(nil)
	_, err = h.Await(bounded(t))
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, s.Shutdown(bounded(t))) // waits for every OnDone
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"p.create", "c.create", "p.queue", "c.queue", "p.start", "c.start:parent", "p.done:child", "c.done:child"}, order)
}
