package scheduler_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Issue 3, item 1: the scope tree, task contexts and the snapshot.

func TestScopeTreeHasNamedChildrenThatKnowTheirParent(t *testing.T) {
	s := scSched(t)
	root := s.Root()
	assert.Equal(t, "root", root.Name(), "Root().Name()")
	assert.Nil(t, root.Parent(), "Root().Parent()")
	assert.Same(t, s, root.Scheduler(), "Root().Scheduler()")

	a := scChild(t, root, scheduler.WithName("hosts"))
	b := scChild(t, root)
	a1 := scChild(t, a, scheduler.WithName("example.com"))
	a2 := scChild(t, a)

	assert.Equal(t, "hosts", a.Name(), "Name() of a scope made WithName")
	assert.Same(t, root, a.Parent(), "a.Parent()")
	assert.Same(t, root, b.Parent(), "b.Parent()")
	assert.Same(t, a, a1.Parent(), "a1.Parent()")
	assert.Same(t, a, a2.Parent(), "a2.Parent()")
	assert.Same(t, s, a1.Scheduler(), "a1.Scheduler()")
	if !strings.HasPrefix(b.Name(), "root/") {
		t.Errorf("default name of a child of root = %q; want the prefix %q", b.Name(), "root/")
	}
	if !strings.HasPrefix(a2.Name(), "hosts/") {
		t.Errorf("default name of a child of hosts = %q; want the prefix %q", a2.Name(), "hosts/")
	}

	snap := s.Snapshot()
	assert.Equal(t, "root", snap.Name, "Snapshot().Name")
	assert.ElementsMatch(t, []string{"hosts", b.Name()}, scChildNames(snap), "children of root in the snapshot")
	hosts, ok := scFindChild(snap, "hosts")
	require.True(t, ok, "snapshot has no scope %q", "hosts")
	assert.ElementsMatch(t, []string{"example.com", a2.Name()}, scChildNames(hosts), "children of hosts in the snapshot")
	sub := a.Snapshot()
	assert.Equal(t, "hosts", sub.Name, "a.Snapshot().Name")
	assert.ElementsMatch(t, scChildNames(hosts), scChildNames(sub), "a.Snapshot() children = its subtree in s.Snapshot()")
}

func TestScopeTaskContextDerivesFromItsScopeContext(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(4))
	deadline := time.Now().Add(time.Hour)
	parent := scChild(t, s.Root(), scheduler.WithName("parent"), scheduler.WithDeadline(deadline))
	child := scChild(t, parent, scheduler.WithName("child"))

	type view struct {
		deadline time.Time
		hasDL    bool
		errNow   error
		self     lazytask.Handle
	}
	views := make(chan view, 1)
	started := make(chan struct{})
	seen := make(chan scCtxSeen, 1)
	h, err := scheduler.Submit(child, func(ctx context.Context) (int, error) {
		d, ok := ctx.Deadline()
		views <- view{d, ok, ctx.Err(), lazytask.HandleOf(ctx)}
		close(started)
		<-ctx.Done()
		seen <- scCtxSeen{ctx.Err(), context.Cause(ctx)}
		return 0, context.Cause(ctx)
	})
	require.NoError(t, err)
	<-started
	v := <-views
	if !v.hasDL || !v.deadline.Equal(deadline) {
		t.Errorf("task ctx.Deadline() = %v, %v; want the grandparent scope's %v, true", v.deadline, v.hasDL, deadline)
	}
	assert.NoError(t, v.errNow, "task ctx.Err() before any cancel")
	assert.Equal(t, lazytask.Handle(h), v.self, "lazytask.HandleOf(task ctx)")

	cause := errors.New("parent scope stopped")
	parent.Cancel(cause)
	got := <-seen
	assert.Equal(t, context.Canceled, got.err, "task ctx.Err() after its ancestor scope was canceled")
	assert.Equal(t, cause, got.cause, "context.Cause(task ctx) after its ancestor scope was canceled")
	assert.Equal(t, context.Cause(child.Context()), got.cause, "task cause = its scope's cause")
	_, err = h.Await(context.Background())
	assert.ErrorIs(t, err, cause, "Await of the canceled task")
	assert.Equal(t, lazytask.Canceled, h.State(), "State() of a task that returned its cause")
}

func TestScopeSnapshotShowsTasksWithStateNameLabelsAndAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := scSched(t, scheduler.WithLimit(4), scheduler.WithTimings())
		jobs := scChild(t, s.Root(), scheduler.WithName("jobs"), scheduler.WithLimit(1))
		sub := scChild(t, jobs, scheduler.WithName("sub"))

		_, _ = scHold(t, jobs, lazytask.WithName("running"), lazytask.WithLabel("host", "a"))
		_, err := scheduler.Submit(jobs, func(context.Context) (int, error) { return 0, nil },
			lazytask.WithName("queued"), lazytask.WithLabel("host", "b"), lazytask.WithPriority(3))
		require.NoError(t, err)
		scheduler.NewTask(jobs, func(context.Context) (int, error) { return 0, nil },
			lazytask.WithName("lazy"), lazytask.WithLabel("host", "c"))
		_ = scheduler.NewTask(sub, func(context.Context) (int, error) { return 0, nil }, lazytask.WithName("sub-lazy"))

		<-time.After(3 * time.Second) // the fake clock moves on: ages grow
		snap := s.Snapshot()
		assert.Equal(t, 1, snap.InUse, "root InUse")
		js, ok := scFindChild(snap, "jobs")
		require.True(t, ok, "snapshot has no scope %q", "jobs")
		assert.Equal(t, 1, js.Limit, "jobs Limit")
		assert.Equal(t, 1, js.InUse, "jobs InUse")
		assert.Equal(t, [3]int{1, 1, 1}, [3]int{js.Running, js.Queued, js.Lazy}, "jobs Running, Queued, Lazy")
		assert.False(t, js.Closed || js.Canceled, "jobs Closed or Canceled")

		type row struct {
			Name   string
			State  lazytask.State
			Labels map[string]string
		}
		var rows []row
		for _, ts := range js.Tasks {
			rows = append(rows, row{ts.Name, ts.State, ts.Labels})
			if ts.Age < 3*time.Second {
				t.Errorf("task %q Age = %v; want at least 3s (the fake clock moved 3s since it was made)", ts.Name, ts.Age)
			}
			if ts.Age < 0 {
				t.Errorf("task %q Age = %v; want >= 0", ts.Name, ts.Age)
			}
		}
		assert.Equal(t, []row{
			{"running", lazytask.Running, map[string]string{"host": "a"}},
			{"queued", lazytask.Queued, map[string]string{"host": "b"}},
			{"lazy", lazytask.Lazy, map[string]string{"host": "c"}},
		}, rows, "tasks of jobs: running, then queued, then lazy")
		assert.Equal(t, 3, js.Tasks[1].Priority, "Priority of the queued task")

		ss, ok := scFindChild(js, "sub")
		require.True(t, ok, "snapshot of jobs has no child %q", "sub")
		require.Len(t, ss.Tasks, 1, "tasks of sub")
		assert.Equal(t, "sub-lazy", ss.Tasks[0].Name, "task of sub")
		assert.Equal(t, lazytask.Lazy, ss.Tasks[0].State, "state of the task of sub")
	})
}

func TestScopeShutDownChildDisappearsFromTheParentSnapshot(t *testing.T) {
	s := scSched(t)
	parent := scChild(t, s.Root(), scheduler.WithName("parent"))
	gone := scChild(t, parent, scheduler.WithName("gone"))
	_ = scChild(t, parent, scheduler.WithName("stays"))
	_, err := scheduler.Go(gone, func(context.Context) error { return nil })
	require.NoError(t, err)
	ps, _ := scFindChild(s.Snapshot(), "parent")
	assert.ElementsMatch(t, []string{"gone", "stays"}, scChildNames(ps), "children before the shutdown")

	require.NoError(t, gone.Shutdown(context.Background()), "gone.Shutdown")
	assert.Equal(t, []string{"stays"}, scChildNames(parent.Snapshot()), "children of parent after gone shut down")
	assert.True(t, gone.Snapshot().Closed, "gone.Snapshot().Closed")
	assert.Error(t, gone.Context().Err(), "gone.Context().Err() after Shutdown")
}

// Default child names stay unique among live siblings after a child has
// shut down and left its parent, so that snapshots, logs and ScopeErrors
// can tell them apart. (Found as a bug: names were "<parent>/<number of
// children + 1>".)
func TestScopeDefaultChildNamesStayUniqueAfterASiblingShutsDown(t *testing.T) {
	s := scSched(t)
	first := scChild(t, s.Root())
	second := scChild(t, s.Root())
	require.NoError(t, first.Shutdown(context.Background()))
	third := scChild(t, s.Root())
	assert.NotEqual(t, second.Name(), third.Name(), "default names of two live siblings")
}
