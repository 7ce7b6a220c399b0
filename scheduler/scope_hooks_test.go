package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
	"github.com/lazysched/lazysched/tracker"
)

// Issue 3, item 8: lifecycle hooks.

// scHookLog counts, per task, how often each hook fired, and in which
// scope.
type scHookLog struct {
	mu     sync.Mutex
	counts map[lazytask.Handle]*[4]int
	scopes map[lazytask.Handle]string
	done   []lazytask.Info
}

func newScHookLog() *scHookLog {
	return &scHookLog{counts: map[lazytask.Handle]*[4]int{}, scopes: map[lazytask.Handle]string{}}
}

func (l *scHookLog) bump(k int, sc *scheduler.Scope, h lazytask.Handle) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.counts[h]
	if c == nil {
		c = new([4]int)
		l.counts[h] = c
	}
	c[k]++
	l.scopes[h] = sc.Name()
	if k == 3 {
		l.done = append(l.done, h.Info())
	}
}

func (l *scHookLog) hooks() scheduler.Hooks {
	return scheduler.Hooks{
		OnCreate: func(_ context.Context, sc *scheduler.Scope, h lazytask.Handle) { l.bump(0, sc, h) },
		OnQueue:  func(_ context.Context, sc *scheduler.Scope, h lazytask.Handle) { l.bump(1, sc, h) },
		OnStart: func(_ context.Context, sc *scheduler.Scope, h lazytask.Handle) context.Context {
			l.bump(2, sc, h)
			return nil
		},
		OnDone: func(_ context.Context, sc *scheduler.Scope, h lazytask.Handle) { l.bump(3, sc, h) },
	}
}

// of returns the counts of create, queue, start and done for h.
func (l *scHookLog) of(h lazytask.Handle) [4]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.counts[h]; c != nil {
		return *c
	}
	return [4]int{}
}

func (l *scHookLog) scopeOf(h lazytask.Handle) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.scopes[h]
}

func (l *scHookLog) tasks() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.counts)
}

func TestScopeHooksOfSeveralTrackersAllSeeEveryTask(t *testing.T) {
	first, second := newScHookLog(), newScHookLog()
	s := scSched(t, scheduler.WithLimit(4), scheduler.WithHooks(first.hooks()), scheduler.WithHooks(second.hooks()))
	child := scChild(t, s.Root(), scheduler.WithName("child"))
	var hs []lazytask.Handle
	for i := range 40 {
		sp := scheduler.Spawner(s)
		if i%2 == 1 {
			sp = child
		}
		h, err := scheduler.Submit(sp, func(context.Context) (int, error) { return i, nil })
		require.NoError(t, err)
		hs = append(hs, h)
	}
	require.NoError(t, s.Shutdown(context.Background()))
	for name, l := range map[string]*scHookLog{"first": first, "second": second} {
		assert.Equal(t, len(hs), l.tasks(), "tasks seen by the %s tracker", name)
		for i, h := range hs {
			assert.Equal(t, [4]int{1, 1, 1, 1}, l.of(h), "%s tracker's create, queue, start, done counts of task %d", name, i)
		}
	}
}

func TestScopeChildInheritsItsParentsHooksPlusItsOwn(t *testing.T) {
	inherited, own := newScHookLog(), newScHookLog()
	s := scSched(t, scheduler.WithHooks(inherited.hooks()))
	child := scChild(t, s.Root(), scheduler.WithName("child"), scheduler.WithHooks(own.hooks()))
	grandchild := scChild(t, child, scheduler.WithName("grandchild"))
	sibling := scChild(t, s.Root(), scheduler.WithName("sibling"))
	hs := map[string]lazytask.Handle{}
	for _, sp := range []*scheduler.Scope{s.Root(), child, grandchild, sibling} {
		h, err := scheduler.Submit(sp, func(context.Context) (int, error) { return 0, nil })
		require.NoError(t, err)
		hs[sp.Name()] = h
	}
	require.NoError(t, s.Shutdown(context.Background()))
	for name, h := range hs {
		assert.Equal(t, [4]int{1, 1, 1, 1}, inherited.of(h), "root's hooks on the task of %s", name)
		assert.Equal(t, name, inherited.scopeOf(h), "scope passed to the hooks for the task of %s", name)
	}
	assert.Equal(t, [4]int{1, 1, 1, 1}, own.of(hs["child"]), "child's own hooks on its task")
	assert.Equal(t, [4]int{1, 1, 1, 1}, own.of(hs["grandchild"]), "child's hooks on the grandchild's task")
	assert.Equal(t, [4]int{}, own.of(hs["root"]), "child's hooks on the root's task")
	assert.Equal(t, [4]int{}, own.of(hs["sibling"]), "child's hooks on the sibling's task")
}

func TestScopeOnDoneSeesTheFinalStateErrorAndTimings(t *testing.T) {
	log := newScHookLog()
	s := scSched(t, scheduler.WithLimit(1), scheduler.WithHooks(log.hooks()), scheduler.WithTimings())
	sc := scChild(t, s.Root(), scheduler.WithName("sc"))
	_, g := scHold(t, sc, lazytask.WithName("holder"))
	bad := errors.New("bad input")
	gone := errors.New("gone")
	_, _ = scheduler.Submit(sc, func(context.Context) (int, error) { return 0, nil }, lazytask.WithName("ok"))
	_, _ = scheduler.Submit(sc, func(context.Context) (int, error) { return 0, bad }, lazytask.WithName("bad"))
	q, _ := scheduler.Submit(sc, func(context.Context) (int, error) { return 0, nil }, lazytask.WithName("canceled"))
	require.True(t, q.Cancel(gone), "Cancel of a queued task")
	g.open()
	require.NoError(t, s.Shutdown(context.Background()))

	infos := map[string]lazytask.Info{}
	for _, i := range log.done {
		infos[i.Name] = i
	}
	require.Len(t, infos, 4, "tasks seen by OnDone")
	for _, name := range []string{"holder", "ok", "bad"} {
		i := infos[name]
		tm := i.Timings
		if tm.Created.IsZero() || tm.Queued.IsZero() || tm.Started.IsZero() || tm.Finished.IsZero() {
			t.Errorf("OnDone Timings of %q = %+v; want every step set", name, tm)
			continue
		}
		if tm.Queued.Before(tm.Created) || tm.Started.Before(tm.Queued) || tm.Finished.Before(tm.Started) {
			t.Errorf("OnDone Timings of %q = %+v; want created <= queued <= started <= finished", name, tm)
		}
	}
	assert.Equal(t, lazytask.Succeeded, infos["ok"].State, "OnDone State of ok")
	assert.NoError(t, infos["ok"].Err, "OnDone Err of ok")
	assert.Equal(t, lazytask.Failed, infos["bad"].State, "OnDone State of bad")
	assert.Equal(t, bad, infos["bad"].Err, "OnDone Err of bad")
	c := infos["canceled"]
	assert.Equal(t, lazytask.Canceled, c.State, "OnDone State of a task canceled in the queue")
	assert.Equal(t, gone, c.Err, "OnDone Err of a task canceled in the queue")
	assert.True(t, c.Timings.Started.IsZero(), "OnDone Timings.Started of a task that never ran = %v; want zero", c.Timings.Started)
	assert.False(t, c.Timings.Finished.IsZero(), "OnDone Timings.Finished of a canceled task is set")
	assert.Equal(t, [4]int{1, 1, 0, 1}, log.of(q), "create, queue, start, done counts of the canceled task")
}

func TestScopeHooksFireOncePerTaskUnderConcurrency(t *testing.T) {
	// Every way a task can end, raced by several submitters: each task
	// sees OnCreate and OnDone once, OnQueue once if it was handed to a
	// queue, and OnStart once if and only if its function ran.
	const submitters, perSub = 4, 150
	log := newScHookLog()
	s := scSched(t, scheduler.WithLimit(3), scheduler.WithHooks(log.hooks()))
	ff := scChild(t, s.Root(), scheduler.WithName("ff"), scheduler.FailFast())
	work := scChild(t, s.Root(), scheduler.WithName("work"), scheduler.WithLimit(2))
	doomed := scChild(t, s.Root(), scheduler.WithName("doomed"))

	type entry struct {
		h        lazytask.Handle
		ran      *atomic.Bool
		enqueued bool
		refused  bool // by a canceled scope
	}
	var mu sync.Mutex
	var all []entry
	add := func(e entry) { mu.Lock(); all = append(all, e); mu.Unlock() }
	var wg sync.WaitGroup
	for sub := range submitters {
		wg.Go(func() {
			for i := range perSub {
				ran := new(atomic.Bool)
				body := func(ctx context.Context) (int, error) {
					ran.Store(true)
					if i%13 == 0 && sub == 0 {
						return 0, fmt.Errorf("task %d: %w", i, scErrA) // fails ff
					}
					select {
					case <-ctx.Done():
						return 0, ctx.Err()
					default:
						return i, nil
					}
				}
				sp := []*scheduler.Scope{s.Root(), ff, work, doomed}[i%4]
				switch {
				case i%10 == 9: // lazy, left for Shutdown
					h := scheduler.NewTask(sp, body)
					add(entry{h, ran, false, errors.Is(h.Err(), scheduler.ErrScopeCanceled)})
				case i%10 == 8: // lazy, then force-run
					h := scheduler.NewTask(sp, body)
					refused := errors.Is(h.Err(), scheduler.ErrScopeCanceled)
					_ = h.Start()
					add(entry{h, ran, false, refused})
				default:
					h, err := scheduler.Submit(sp, body)
					if err == nil && i%5 == 0 {
						h.Cancel(nil)
					}
					add(entry{h, ran, true, err != nil})
				}
				if sub == 1 && i == perSub/2 {
					doomed.Cancel(errors.New("doomed"))
				}
			}
		})
	}
	wg.Wait()
	_ = s.Shutdown(context.Background())

	refused := 0
	for i, e := range all {
		got := log.of(e.h)
		if e.refused {
			// A task a canceled scope refused never starts; whether the
			// hooks see it at all is the scheduler's choice, but if they
			// do, they see it made and ended, once.
			refused++
			if e.ran.Load() || got[2] != 0 || got[0] != got[3] || got[0] > 1 || got[1] > got[0] {
				t.Errorf("refused task %d (%v): ran %v; create, queue, start, done = %v; want no start and create = done <= 1",
					i, e.h.State(), e.ran.Load(), got)
			}
			continue
		}
		want := [4]int{1, 0, 0, 1}
		if e.enqueued {
			want[1] = 1
		}
		if e.ran.Load() {
			want[2] = 1
		}
		if got != want {
			t.Errorf("task %d (%s, %v): create, queue, start, done = %v; want %v", i, log.scopeOf(e.h), e.h.State(), got, want)
		}
	}
	assert.NotZero(t, refused, "tasks refused by the canceled scopes (the test must exercise them)")
	assert.Less(t, refused, len(all), "tasks refused")
}

func TestScopePanickingHookIsContainedAndLogged(t *testing.T) {
	logger, buf := scLogger()
	var after, queued atomic.Int32
	s := scSched(t, scheduler.WithLogger(logger), scheduler.WithHooks(scheduler.Hooks{
		OnCreate: func(context.Context, *scheduler.Scope, lazytask.Handle) { panic("create hook boom") },
		OnStart:  func(context.Context, *scheduler.Scope, lazytask.Handle) context.Context { panic("start hook boom") },
		OnDone:   func(context.Context, *scheduler.Scope, lazytask.Handle) { panic("done hook boom") },
	}), scheduler.WithHooks(scheduler.Hooks{
		OnQueue: func(context.Context, *scheduler.Scope, lazytask.Handle) { queued.Add(1) },
		OnDone:  func(context.Context, *scheduler.Scope, lazytask.Handle) { after.Add(1) },
	}))
	sc := scChild(t, s.Root(), scheduler.WithName("hooked"))
	h, err := scheduler.Submit(sc, func(context.Context) (int, error) { return 42, nil })
	require.NoError(t, err, "Submit with a panicking OnCreate hook")
	v, err := h.Await(context.Background())
	if v != 42 || err != nil {
		t.Errorf("Await of a task whose hooks panic = %v, %v; want 42, nil", v, err)
	}
	assert.Equal(t, lazytask.Succeeded, h.State(), "State() of a task whose hooks panic")
	require.NoError(t, s.Shutdown(context.Background()))
	assert.Equal(t, int32(1), after.Load(), "runs of the OnDone hook registered after the panicking one")
	assert.Equal(t, int32(1), queued.Load(), "runs of the OnQueue hook fired with the panicking OnCreate")
	out := buf.String()
	for _, want := range []string{"create hook boom", "start hook boom", "done hook boom"} {
		assert.Contains(t, out, want, "log output")
	}
	assert.Contains(t, out, `msg="lazysched: hook panicked" scope=hooked`, "log output")
}

func TestScopeTrackerFiguresMatchStats(t *testing.T) {
	var tr tracker.Tracker
	s := scSched(t, scheduler.WithLimit(2), scheduler.WithHooks(tr.Hooks()))
	sc := scChild(t, s.Root(), scheduler.WithName("tracked"), scheduler.WithLimit(1))
	_, g := scHold(t, sc)
	var queued []*lazytask.Task[int]
	for range 5 {
		h, err := scheduler.Submit(sc, func(context.Context) (int, error) { return 0, nil })
		require.NoError(t, err)
		queued = append(queued, h)
	}
	for _, h := range queued[:3] {
		require.True(t, h.Cancel(nil), "Cancel of a queued task")
	}
	for i := range 20 {
		_, err := scheduler.Go(s, func(context.Context) error {
			if i%4 == 0 {
				return scErrA
			}
			return nil
		})
		require.NoError(t, err)
	}
	g.open()
	require.NoError(t, s.Shutdown(context.Background()))

	f, st := tr.Figures(), s.Stats()
	assert.Equal(t, int64(st.Submitted), f.Created, "tracker Created vs Stats().Submitted")
	assert.Equal(t, int64(st.Submitted), f.Queued, "tracker Queued vs Stats().Submitted")
	assert.Equal(t, int64(st.Succeeded), f.Succeeded, "tracker Succeeded vs Stats().Succeeded")
	assert.Equal(t, int64(st.Failed), f.Failed, "tracker Failed vs Stats().Failed")
	assert.Equal(t, int64(st.Canceled), f.Canceled, "tracker Canceled vs Stats().Canceled")
	assert.Equal(t, int64(st.Succeeded+st.Failed), f.Started, "tracker Started vs tasks that ran")
	assert.Equal(t, [3]uint64{18, 5, 3}, [3]uint64{st.Succeeded, st.Failed, st.Canceled}, "Stats() Succeeded, Failed, Canceled")
}

// A tracer that opens a span in OnCreate and closes it in OnDone needs the
// hooks in life-cycle order, also when a free slot starts the task at once
// on another goroutine. (Found as a bug: Submit and Enqueue fired OnCreate
// and OnQueue after handing the task over.)
func TestScopeHooksFireInLifeCycleOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		seq := map[lazytask.Handle][]string{}
		rec := func(h lazytask.Handle, step string) {
			mu.Lock()
			seq[h] = append(seq[h], step)
			mu.Unlock()
		}
		s := scSched(t, scheduler.WithLimit(2), scheduler.WithHooks(scheduler.Hooks{
			OnCreate: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
				// Hooks of Submit run on the test goroutine, the bubble's
				// root: let every other goroutine run first, so that a
				// task already handed to a worker shows it.
				synctest.Wait()
				rec(h, "create")
			},
			OnQueue: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { synctest.Wait(); rec(h, "queue") },
			OnStart: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
				rec(h, "start")
				return nil
			},
			OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { rec(h, "done") },
		}))
		sc := scChild(t, s.Root(), scheduler.WithName("sc"))
		submitted, err := scheduler.Submit(sc, func(context.Context) (int, error) { return 1, nil })
		require.NoError(t, err)
		bound := scheduler.NewTask(sc, func(context.Context) (int, error) { return 2, nil })
		require.NoError(t, sc.Enqueue(bound))
		require.NoError(t, s.Shutdown(context.Background()))

		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []string{"create", "queue", "start", "done"}, seq[submitted], "hook order of a submitted task")
		assert.Equal(t, []string{"create", "queue", "start", "done"}, seq[bound], "hook order of NewTask + Enqueue")
	})
}
