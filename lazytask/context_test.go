package lazytask_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

func TestTaskContextIsDoneWhenTheFunctionReturns(t *testing.T) {
	ctxs := make(chan context.Context, 1)
	tk := lazytask.New(func(ctx context.Context) (int, error) {
		if isClosed(ctx.Done()) {
			t.Errorf("ctx.Done() closed while the function runs")
		}
		if err := ctx.Err(); err != nil {
			t.Errorf("ctx.Err() while the function runs = %v; want nil", err)
		}
		ctxs <- ctx
		return 1, nil
	})
	require.NoError(t, tk.Start())
	_, _ = tk.Await(bg)
	ctx := <-ctxs
	assert.True(t, isClosed(ctx.Done()), "task ctx.Done() closed after the function returned")
	assert.ErrorIs(t, ctx.Err(), context.Canceled, "task ctx.Err() after the function returned")
}

func TestTaskContextDoneAskedFirstAfterTheEndIsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var saved context.Context
		tk := lazytask.New(func(ctx context.Context) (int, error) {
			saved = ctx // nobody asks for Done while the function runs
			return 1, nil
		})
		require.NoError(t, tk.Start())
		synctest.Wait() // the task's goroutine has exited
		require.Equal(t, lazytask.Succeeded, tk.State())
		assert.True(t, isClosed(saved.Done()), "ctx.Done() first asked after the end is closed")
		assert.Error(t, saved.Err(), "ctx.Err() after the end")
	})
}

func TestTaskContextDoneWatchedByAGoroutineClosesAtTheEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		watcherSaw := make(chan error, 1)
		tk := lazytask.New(func(ctx context.Context) (int, error) {
			ready := make(chan struct{})
			go func() {
				done := ctx.Done()
				close(ready)
				<-done
				watcherSaw <- nil
			}()
			<-ready
			return 1, nil
		})
		require.NoError(t, tk.Start())
		_, _ = tk.Await(bg)
		synctest.Wait() // with a Done that never closed, the watcher would block durably
		select {
		case <-watcherSaw:
		default:
			t.Errorf("a goroutine waiting on the task's ctx.Done() did not wake after the function returned")
		}
	})
}

func TestContextDerivedAfterCancelIsCanceledWithTheCause(t *testing.T) {
	cause := errors.New("shutting down")
	type seen struct{ err, cause error }
	out := make(chan seen, 1)
	goAhead := make(chan struct{})
	started := make(chan struct{})
	tk := lazytask.New(func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		<-goAhead
		child, cancel := context.WithCancel(ctx)
		defer cancel()
		out <- seen{child.Err(), context.Cause(child)}
		return 0, ctx.Err()
	})
	require.NoError(t, tk.Start())
	<-started
	require.True(t, tk.Cancel(cause))
	close(goAhead)
	s := <-out
	assert.Equal(t, context.Canceled, s.err, "child.Err() of a child made from a canceled task ctx")
	assert.Equal(t, cause, s.cause, "context.Cause(child)")
	_, _ = tk.Await(bg)
}

func TestContextValuesPassThrough(t *testing.T) {
	type key struct{}
	out := make(chan any, 2)
	tk := lazytask.New(func(ctx context.Context) (int, error) {
		out <- ctx.Value(key{})
		child := context.WithValue(ctx, key{}, "child")
		out <- child.Value(key{})
		return 0, nil
	})
	require.NoError(t, tk.Start())
	_, _ = tk.Await(bg)
	assert.Nil(t, <-out, "ctx.Value(unknown key) of a standalone task")
	assert.Equal(t, "child", <-out, "child.Value(key)")
}

func TestHandleOfReturnsTheTaskInsideItsFunction(t *testing.T) {
	type got struct{ own, child, grandchild lazytask.Handle }
	out := make(chan got, 1)
	var tk *lazytask.Task[int]
	tk = lazytask.New(func(ctx context.Context) (int, error) {
		child := context.WithValue(ctx, struct{}{}, 1)
		grandchild, cancel := context.WithCancel(child)
		defer cancel()
		out <- got{lazytask.HandleOf(ctx), lazytask.HandleOf(child), lazytask.HandleOf(grandchild)}
		return 0, nil
	})
	require.NoError(t, tk.Start())
	_, _ = tk.Await(bg)
	g := <-out
	assert.Same(t, tk, g.own, "HandleOf(task ctx)")
	assert.Same(t, tk, g.child, "HandleOf(context.WithValue(task ctx))")
	assert.Same(t, tk, g.grandchild, "HandleOf(context.WithCancel(child))")
	assert.Nil(t, lazytask.HandleOf(bg), "HandleOf(context.Background())")
}

func TestHandleOfDistinguishesNestedTasks(t *testing.T) {
	out := make(chan lazytask.Handle, 2)
	var inner *lazytask.Task[int]
	outer := lazytask.New(func(ctx context.Context) (int, error) {
		out <- lazytask.HandleOf(ctx)
		inner = lazytask.New(func(ctx context.Context) (int, error) {
			out <- lazytask.HandleOf(ctx)
			return 0, nil
		})
		if err := inner.Start(); err != nil {
			return 0, err
		}
		return inner.Await(ctx)
	})
	require.NoError(t, outer.Start())
	_, err := outer.Await(bg)
	require.NoError(t, err)
	assert.Same(t, outer, <-out, "HandleOf in the outer task")
	assert.Same(t, inner, <-out, "HandleOf in the inner task")
}

func TestChildContextIsCanceledWithTheTaskCause(t *testing.T) {
	cause := errors.New("stop")
	type seen struct{ err, cause error }
	out := make(chan seen, 1)
	started := make(chan struct{})
	tk := lazytask.New(func(ctx context.Context) (int, error) {
		child, cancel := context.WithCancel(ctx)
		defer cancel()
		close(started)
		<-child.Done() // canceled by the task's cancel
		out <- seen{child.Err(), context.Cause(child)}
		return 0, ctx.Err()
	})
	require.NoError(t, tk.Start())
	<-started
	require.True(t, tk.Cancel(cause))
	s := <-out
	assert.Equal(t, context.Canceled, s.err, "child.Err() after the task was canceled")
	assert.Equal(t, cause, s.cause, "context.Cause(child)")
	_, err := tk.Await(bg)
	assert.ErrorIs(t, err, context.Canceled, "Await(bg)")
}

func TestChildContextIsCanceledWhenTheFunctionReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		children := make(chan context.Context, 1)
		tk := lazytask.New(func(ctx context.Context) (int, error) {
			child, cancel := context.WithCancel(ctx)
			_ = cancel // the task's end cancels it
			children <- child
			return 1, nil
		})
		require.NoError(t, tk.Start())
		_, _ = tk.Await(bg)
		child := <-children
		<-child.Done() // a child left open would block durably: synctest fails
		assert.Equal(t, context.Canceled, child.Err(), "child.Err() after the task's function returned")
	})
}
