package scheduler_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// clockScheduler makes a scheduler on a fresh mock clock, set to a
// realistic date, and shuts it down when the test ends.
func clockScheduler(t *testing.T, opts ...scheduler.SchedulerOption) (*scheduler.Scheduler, *clock.Mock) {
	t.Helper()
	mock := clock.NewMock()
	mock.Set(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	s := startScheduler(t, append([]scheduler.SchedulerOption{scheduler.WithClock(scheduler.ClockOf(mock))}, opts...)...)
	return s, mock
}

// notDone asserts that h has not ended. Callers use it where nothing but
// a clock timer that has not fired could end h, so it is not a race.
func notDone(t *testing.T, h lazytask.Handle, msg string) {
	t.Helper()
	select {
	case <-h.Done():
		t.Fatalf("%s: the task ended (%v, %v)", msg, h.State(), h.Err())
	default:
	}
}

func TestWithClockRefusesNil(t *testing.T) {
	_, err := scheduler.New(scheduler.WithClock(nil))
	require.ErrorIs(t, err, scheduler.ErrInvalidOption, "WithClock(nil)")
	_, err = scheduler.New(scheduler.WithClock(scheduler.ClockOf[*clock.Timer](nil)))
	require.ErrorIs(t, err, scheduler.ErrInvalidOption, "WithClock(ClockOf(nil))")
	_, isScopeOption := scheduler.WithClock(scheduler.ClockOf(clock.NewMock())).(scheduler.Option)
	assert.False(t, isScopeOption, "WithClock is a SchedulerOption only")
}

func TestClockDrivesAging(t *testing.T) {
	for _, tc := range []struct {
		name    string
		advance time.Duration
		want    []string
	}{
		{"aged", 10 * time.Second, []string{"low", "high"}},
		{"not aged", 0, []string{"high", "low"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, mock := clockScheduler(t, scheduler.WithLimit(1), scheduler.WithAging(time.Second))
			_, g := hold(t, s)
			order := make(chan string, 2)
			low, err := scheduler.Go(s, func(context.Context) error { order <- "low"; return nil }, lazytask.WithPriority(0))
			require.NoError(t, err)
			mock.Add(tc.advance) // low ages one level per second of the mock
			high, err := scheduler.Go(s, func(context.Context) error { order <- "high"; return nil }, lazytask.WithPriority(5))
			require.NoError(t, err)
			g.open()
			require.NoError(t, low.Wait(bg))
			require.NoError(t, high.Wait(bg))
			close(order)
			var got []string
			for o := range order {
				got = append(got, o)
			}
			require.Equal(t, tc.want, got, "run order after %v on the mock", tc.advance)
		})
	}
}

// waitOnCtx is a task body that reports its context's deadline once it
// runs and then returns when its context ends.
func waitOnCtx(started chan<- time.Time) func(ctx context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		d, ok := ctx.Deadline()
		if !ok {
			d = time.Time{}
		}
		started <- d
		<-ctx.Done()
		return 0, ctx.Err()
	}
}

func TestClockDrivesTaskTimeoutAndDeadline(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  func(now time.Time) lazytask.Option
	}{
		{"timeout", func(time.Time) lazytask.Option { return lazytask.WithTimeout(5 * time.Second) }},
		{"deadline", func(now time.Time) lazytask.Option { return lazytask.WithDeadline(now.Add(5 * time.Second)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, mock := clockScheduler(t)
			t0 := mock.Now()
			started := make(chan time.Time, 1)
			task, err := scheduler.Submit(s, waitOnCtx(started), tc.opt(t0))
			require.NoError(t, err)
			deadline := <-started // the timer is armed before the function runs
			assert.True(t, deadline.Equal(t0.Add(5*time.Second)), "ctx.Deadline() = %v, want the mock's %v", deadline, t0.Add(5*time.Second))

			mock.Add(4 * time.Second)
			notDone(t, task, "4s of a 5s bound on the mock")
			require.Equal(t, lazytask.Running, task.State())

			mock.Add(time.Second)
			err = task.Wait(bg)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Equal(t, lazytask.Failed, task.State(), "a task's own timeout fails it")
		})
	}
}

func TestClockDeadlinePassedInTheQueueNeverRuns(t *testing.T) {
	s, mock := clockScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	var ran atomic.Bool
	task, err := scheduler.Go(s, func(context.Context) error { ran.Store(true); return nil },
		lazytask.WithDeadline(mock.Now().Add(time.Second)))
	require.NoError(t, err)
	mock.Add(2 * time.Second)
	g.open()
	require.ErrorIs(t, task.Wait(bg), context.DeadlineExceeded)
	assert.Equal(t, lazytask.Failed, task.State())
	assert.False(t, ran.Load(), "the function ran past its deadline on the mock")
	assert.True(t, task.Timings().Started.IsZero(), "a task that never ran has no start time")
}

func TestClockDrivesScopeTimeout(t *testing.T) {
	s, mock := clockScheduler(t, scheduler.WithLimit(2))
	t0 := mock.Now()
	sc, err := s.Root().NewScope(scheduler.WithName("timed"), scheduler.WithTimeout(5*time.Second))
	require.NoError(t, err)
	d, ok := sc.Context().Deadline()
	require.True(t, ok, "a timed scope's context has a deadline")
	assert.True(t, d.Equal(t0.Add(5*time.Second)), "scope deadline %v, want the mock's %v", d, t0.Add(5*time.Second))

	// One task of the scope runs; the root's other slot is held, so the
	// scope's next tasks wait in its queue.
	started := make(chan time.Time, 1)
	running, err := scheduler.Submit(sc, waitOnCtx(started))
	require.NoError(t, err)
	deadline := <-started
	assert.True(t, deadline.Equal(t0.Add(5*time.Second)), "task ctx deadline %v, from its scope on the mock", deadline)
	_, g := hold(t, s)
	var ran atomic.Int32
	var queued []lazytask.Handle
	for range 2 {
		q, err := scheduler.Go(sc, func(context.Context) error { ran.Add(1); return nil })
		require.NoError(t, err)
		queued = append(queued, q)
	}

	mock.Add(4 * time.Second)
	require.NoError(t, sc.Context().Err(), "the scope expired early")
	for _, q := range queued {
		require.Equal(t, lazytask.Queued, q.State())
	}
	notDone(t, running, "the scope's running task, before its deadline")

	mock.Add(time.Second)
	for _, q := range queued {
		require.ErrorIs(t, q.Wait(bg), context.DeadlineExceeded)
		assert.Equal(t, lazytask.Canceled, q.State())
	}
	require.ErrorIs(t, running.Wait(bg), context.DeadlineExceeded)
	assert.Equal(t, context.DeadlineExceeded, sc.Context().Err(), "the scope context's Err")
	assert.ErrorIs(t, context.Cause(sc.Context()), context.DeadlineExceeded, "the scope context's cause")
	g.open()
	require.NoError(t, s.Shutdown(bg))
	assert.Zero(t, ran.Load(), "queued tasks of an expired scope ran")

	// A context derived from the expired scope reads its Err.
	child, cancel := context.WithCancel(sc.Context())
	defer cancel()
	assert.Equal(t, context.DeadlineExceeded, child.Err())
}

func TestClockScopeTimeoutReachesChildScopes(t *testing.T) {
	s, mock := clockScheduler(t, scheduler.WithLimit(1))
	parent, err := s.Root().NewScope(scheduler.WithTimeout(time.Minute))
	require.NoError(t, err)
	mock.Add(30 * time.Second)
	child, err := parent.NewScope(scheduler.WithTimeout(time.Hour))
	require.NoError(t, err)
	d, _ := child.Context().Deadline()
	assert.True(t, d.Equal(mock.Now().Add(30*time.Second)), "the child's deadline is its parent's: %v", d)
	_, g := hold(t, s)
	var ran atomic.Bool
	q, err := scheduler.Go(child, func(context.Context) error { ran.Store(true); return nil })
	require.NoError(t, err)
	mock.Add(29 * time.Second)
	require.Equal(t, lazytask.Queued, q.State())
	mock.Add(time.Second)
	require.ErrorIs(t, q.Wait(bg), context.DeadlineExceeded)
	assert.Equal(t, lazytask.Canceled, q.State())
	// The child's Err may be Canceled: the parent's cancellation of its
	// subtree can reach it before the expiry does, as on the runtime's
	// clock. The cause is the expiry either way.
	assert.ErrorIs(t, context.Cause(child.Context()), context.DeadlineExceeded, "the child's cause")
	_, err = scheduler.Go(child, func(context.Context) error { return nil })
	assert.ErrorIs(t, err, scheduler.ErrScopeCanceled, "an expired scope refuses tasks")
	g.open()
	require.NoError(t, s.Shutdown(bg))
	assert.False(t, ran.Load())
}

func TestClockScopeCanceledBeforeItsDeadline(t *testing.T) {
	s, _ := clockScheduler(t)
	sc, err := s.Root().NewScope(scheduler.WithTimeout(time.Hour))
	require.NoError(t, err)
	ctx := sc.Context()
	// A context derived while the scope is live learns of its end.
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := errors.New("stop")
	sc.Cancel(stop)
	<-child.Done()
	assert.ErrorIs(t, context.Cause(ctx), stop, "cause of a canceled scope")
	assert.Equal(t, context.Canceled, ctx.Err(), "a scope canceled before its deadline did not expire")
	assert.Equal(t, context.Canceled, child.Err())
}

func TestClockTimingsAreOnTheMock(t *testing.T) {
	s, mock := clockScheduler(t, scheduler.WithLimit(1))
	t0 := mock.Now()
	_, g := hold(t, s)
	finish := make(chan struct{})
	begun := make(chan struct{})
	task, err := scheduler.Go(s, func(context.Context) error { close(begun); <-finish; return nil })
	require.NoError(t, err)
	mock.Add(time.Second)
	g.open() // the holder ends at t0+1s and hands its slot to task
	<-begun
	mock.Add(2 * time.Second)
	close(finish)
	require.NoError(t, task.Wait(bg))
	tm := task.Timings()
	assert.True(t, tm.Created.Equal(t0), "created %v, want %v", tm.Created, t0)
	assert.True(t, tm.Queued.Equal(t0), "queued %v, want %v", tm.Queued, t0)
	assert.True(t, tm.Started.Equal(t0.Add(time.Second)), "started %v, want %v", tm.Started, t0.Add(time.Second))
	assert.True(t, tm.Finished.Equal(t0.Add(3*time.Second)), "finished %v, want %v", tm.Finished, t0.Add(3*time.Second))
	assert.Equal(t, time.Second, tm.QueueTime())
	assert.Equal(t, 2*time.Second, tm.RunTime())

	// A task bound with NewTask and enqueued later is queued when handed
	// over, on the mock too.
	lazy := scheduler.NewTask(s, func(context.Context) (int, error) { return 1, nil })
	mock.Add(time.Minute)
	require.NoError(t, s.Enqueue(lazy))
	require.NoError(t, lazy.Wait(bg))
	lt := lazy.Timings()
	assert.True(t, lt.Created.Equal(t0.Add(3*time.Second)), "NewTask created %v", lt.Created)
	assert.True(t, lt.Queued.Equal(t0.Add(3*time.Second+time.Minute)), "NewTask queued %v", lt.Queued)
	assert.True(t, lt.Finished.Equal(lt.Queued), "NewTask finished %v", lt.Finished)
}

func TestClockHooksSeeTimingsOnTheMock(t *testing.T) {
	created := make(chan time.Time, 1)
	done := make(chan lazytask.Timings, 1)
	s, mock := clockScheduler(t, scheduler.WithHooks(scheduler.Hooks{
		OnCreate: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { created <- h.Info().Timings.Created },
		OnDone:   func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { done <- h.Info().Timings },
	}))
	t0 := mock.Now()
	task, err := scheduler.Go(s, func(context.Context) error { return nil })
	require.NoError(t, err)
	require.NoError(t, task.Wait(bg))
	c := <-created
	assert.True(t, c.Equal(t0), "OnCreate saw created %v; want the mock's %v", c, t0)
	tm := <-done
	assert.True(t, tm.Finished.Equal(t0), "OnDone saw finished %v; want the mock's %v", tm.Finished, t0)
}

func TestClockRefusedTaskWasCreatedOnTheMock(t *testing.T) {
	s, mock := clockScheduler(t)
	require.NoError(t, s.Shutdown(bg))
	task, err := scheduler.Go(s, func(context.Context) error { return nil })
	require.ErrorIs(t, err, scheduler.ErrClosed)
	tm := task.Timings()
	assert.True(t, tm.Created.Equal(mock.Now()), "created %v of a refused task; want the mock's %v", tm.Created, mock.Now())
	assert.True(t, tm.Finished.Equal(mock.Now()), "finished %v of a refused task; want the mock's %v", tm.Finished, mock.Now())
}

func TestClockSnapshotAgeIsOnTheMock(t *testing.T) {
	s, mock := clockScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	// A task made outside the scheduler keeps its creation on the
	// runtime's clock, and so its age.
	before := time.Now()
	foreign := lazytask.New(func(context.Context) (int, error) { return 0, nil }, lazytask.WithName("foreign"), lazytask.WithTimings())
	require.NoError(t, s.Enqueue(foreign))
	mock.Add(time.Minute)
	snap := s.Snapshot()
	require.Len(t, snap.Tasks, 2)
	assert.Equal(t, time.Minute, snap.Tasks[0].Age, "age of the running task on the mock")
	assert.Equal(t, "foreign", snap.Tasks[1].Name)
	assert.GreaterOrEqual(t, snap.Tasks[1].Age, time.Duration(0), "age of a foreign task, on the runtime's clock")
	assert.Less(t, snap.Tasks[1].Age, time.Since(before)+time.Nanosecond, "age of a foreign task, on the runtime's clock")
	assert.True(t, foreign.Timings().Queued.Equal(mock.Now().Add(-time.Minute)), "queued on the mock: %v", foreign.Timings().Queued)
	assert.False(t, foreign.Timings().Created.Before(before), "created on the runtime's clock")
	g.open()
}

// The adapter also takes benbjohnson/clock's real clock, through its Clock
// interface: timeouts then pass in real time.
func TestClockOfRealClock(t *testing.T) {
	s := startScheduler(t, scheduler.WithClock(scheduler.ClockOf(clock.New())))
	started := make(chan time.Time, 1)
	before := time.Now()
	task, err := scheduler.Submit(s, waitOnCtx(started), lazytask.WithTimeout(time.Millisecond))
	require.NoError(t, err)
	d := <-started
	assert.False(t, d.Before(before.Add(time.Millisecond)), "deadline %v on the real clock", d)
	require.ErrorIs(t, task.Wait(bg), context.DeadlineExceeded)
	assert.False(t, task.Timings().Started.Before(before))
}
