package scheduler_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// hookLog records the hooks a scheduler's tasks fire, in order.
type hookLog struct {
	mu  sync.Mutex
	got []string
}

func (l *hookLog) add(s string) { l.mu.Lock(); l.got = append(l.got, s); l.mu.Unlock() }

func (l *hookLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.got...)
}

func (l *hookLog) hooks(onCreate func(sc *scheduler.Scope, h lazytask.Handle)) scheduler.Hooks {
	return scheduler.Hooks{
		OnCreate: func(_ context.Context, sc *scheduler.Scope, h lazytask.Handle) {
			l.add("create")
			if onCreate != nil {
				onCreate(sc, h)
			}
		},
		OnQueue: func(context.Context, *scheduler.Scope, lazytask.Handle) { l.add("queue") },
		OnStart: func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) context.Context {
			l.add("start")
			return ctx
		},
		OnDone: func(context.Context, *scheduler.Scope, lazytask.Handle) { l.add("done") },
	}
}

// A task made elsewhere and force-run into a scope is new to the scope's
// hooks, as one handed over by Enqueue is: a monitor that counts tasks in
// flight as created minus done must see its OnCreate before its OnStart.
func TestForceOfALazyTaskMadeElsewhereFiresOnCreate(t *testing.T) {
	var log hookLog
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(log.hooks(nil)))
	task := lazytask.New(func(context.Context) (int, error) { return 7, nil })
	require.NoError(t, s.Force(task))
	v, err := task.Await(bg)
	require.NoError(t, err)
	assert.Equal(t, 7, v)
	require.NoError(t, s.Shutdown(bg)) // every OnDone has run
	assert.Equal(t, []string{"create", "start", "done"}, log.list())
	st := s.Stats()
	assert.Equal(t, uint64(1), st.Created)
	assert.Equal(t, uint64(1), st.ForceRuns)
}

// A task of the scope's own (NewTask) had its OnCreate when it was made;
// Force fires it no second time.
func TestForceOfANewTaskFiresOnCreateOnce(t *testing.T) {
	var log hookLog
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(log.hooks(nil)))
	task := scheduler.NewTask(s, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, s.Force(task))
	_, err := task.Await(bg)
	require.NoError(t, err)
	require.NoError(t, s.Shutdown(bg))
	assert.Equal(t, []string{"create", "start", "done"}, log.list())
}

// An OnCreate hook that cancels the task it sees ends the Force: the task
// never runs, and Force says why.
func TestForceWhoseOnCreateHookCancelsTheTask(t *testing.T) {
	var log hookLog
	cause := errors.New("not today")
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(log.hooks(func(_ *scheduler.Scope, h lazytask.Handle) {
		h.Cancel(cause)
	})))
	ran := false
	task := lazytask.New(func(context.Context) (int, error) { ran = true; return 0, nil })
	err := s.Force(task)
	require.ErrorIs(t, err, scheduler.ErrNotQueued)
	_, err = task.Await(bg)
	require.ErrorIs(t, err, cause)
	require.NoError(t, s.Shutdown(bg))
	assert.False(t, ran)
	assert.Equal(t, lazytask.Canceled, task.State())
	assert.NotContains(t, log.list(), "start")
}

// An OnCreate hook that force-runs the task itself (with the scope it is
// given) runs it once; the outer Force reports it Running already.
func TestForceWhoseOnCreateHookForceRunsTheTask(t *testing.T) {
	var log hookLog
	var inner error
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(log.hooks(func(sc *scheduler.Scope, h lazytask.Handle) {
		inner = sc.Force(h)
	})))
	var runs int
	task := lazytask.New(func(context.Context) (int, error) { runs++; return 3, nil })
	err := s.Force(task)
	require.NoError(t, inner)
	if err != nil {
		require.ErrorIs(t, err, scheduler.ErrNotQueued)
	}
	v, err := task.Await(bg)
	require.NoError(t, err)
	assert.Equal(t, 3, v)
	require.NoError(t, s.Shutdown(bg))
	assert.Equal(t, 1, runs)
	assert.Equal(t, []string{"create", "start", "done"}, log.list())
	assert.Equal(t, uint64(1), s.Stats().ForceRuns)
}
