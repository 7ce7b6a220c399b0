package lazytask_test

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

// Out of the int32 range (variables, so that a 32-bit build compiles).
var aboveInt32, belowInt32 int64 = math.MaxInt32 + 1, math.MinInt32 - 1

func noop(ctx context.Context) (int, error) { return 0, nil }

func TestOptionsReadBack(t *testing.T) {
	deadline := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tk := lazytask.New(noop,
		lazytask.WithName("fetch"),
		lazytask.WithPriority(-7),
		lazytask.WithWeight(3),
		lazytask.WithTimeout(2*time.Second),
		lazytask.WithDeadline(deadline),
		lazytask.WithLabel("host", "example.org"),
		lazytask.WithLabel("try", "2"),
	)
	require.Equal(t, lazytask.Lazy, tk.State(), "State() with valid options")
	want := lazytask.Options{
		Name: "fetch", Priority: -7, Weight: 3, Timeout: 2 * time.Second, Deadline: deadline,
		Labels: map[string]string{"host": "example.org", "try": "2"},
	}
	assert.Equal(t, want, tk.Options(), "Options()")
	assert.Equal(t, "fetch", tk.Name(), "Name()")
	assert.Equal(t, want, tk.Info().Options, "Info().Options")
}

func TestOptionsLabelsAreACopy(t *testing.T) {
	tk := lazytask.New(noop, lazytask.WithLabel("k", "v"))
	tk.Options().Labels["k"] = "changed"
	assert.Equal(t, "v", tk.Options().Labels["k"], "Options().Labels[k] after changing a returned copy")

	labels := map[string]string{"a": "1"}
	tk2 := lazytask.New(noop, lazytask.WithOptions(lazytask.Options{Name: "x", Labels: labels}))
	labels["a"] = "changed"
	assert.Equal(t, "1", tk2.Options().Labels["a"], "Options().Labels[a] after changing the map given to WithOptions")
}

func TestOptionsDefaults(t *testing.T) {
	assert.Equal(t, lazytask.Options{Weight: 1}, lazytask.New(noop).Options(), "Options() with none given")
	assert.Equal(t, "", lazytask.New(noop).Name(), "Name() with none given")
	assert.Equal(t, lazytask.Options{Priority: 5, Weight: 1},
		lazytask.New(noop, lazytask.WithPriority(5)).Options(), "Options() with a priority only")
	assert.Equal(t, lazytask.Options{Name: "n", Weight: 1},
		lazytask.New(noop, lazytask.WithName("n")).Options(), "Options() with a name only")
}

func TestWithOptionsSetsEverything(t *testing.T) {
	o := lazytask.Options{Name: "all", Priority: 2, Weight: 4, Timeout: time.Minute, Labels: map[string]string{"x": "y"}}
	tk := lazytask.New(noop, lazytask.WithName("overwritten"), lazytask.WithOptions(o))
	assert.Equal(t, o, tk.Options(), "Options()")
}

func TestInvalidOptionsEndTheTaskFailed(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  lazytask.Option
	}{
		{"weight 0", lazytask.WithWeight(0)},
		{"weight -1", lazytask.WithWeight(-1)},
		{"negative timeout", lazytask.WithTimeout(-time.Second)},
		{"weight -2 via WithOptions", lazytask.WithOptions(lazytask.Options{Weight: -2})},
		{"negative timeout via WithOptions", lazytask.WithOptions(lazytask.Options{Timeout: -1})},
		{"priority above int32", lazytask.WithPriority(int(aboveInt32))},
		{"priority below int32", lazytask.WithPriority(int(belowInt32))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strconv.IntSize == 32 && tc.name[:8] == "priority" {
				t.Skip("int is 32 bits")
			}
			synctest.Test(t, func(t *testing.T) {
				var runs atomic.Int32
				tk := lazytask.New(func(ctx context.Context) (int, error) { runs.Add(1); return 0, nil }, tc.opt)
				if got := tk.State(); got != lazytask.Failed {
					t.Errorf("State() = %v; want failed", got)
				}
				if err := tk.Err(); !errors.Is(err, lazytask.ErrInvalidOption) {
					t.Errorf("Err() = %v; want an error wrapping ErrInvalidOption", err)
				}
				if _, err := tk.Await(bg); !errors.Is(err, lazytask.ErrInvalidOption) {
					t.Errorf("Await(bg) = %v; want an error wrapping ErrInvalidOption", err)
				}
				if err := tk.Start(); !errors.Is(err, lazytask.ErrStarted) {
					t.Errorf("Start() = %v; want ErrStarted", err)
				}
				synctest.Wait()
				if got := runs.Load(); got != 0 {
					t.Errorf("runs = %d; want 0", got)
				}
			})
		})
	}
}

func TestNilFunctionEndsTheTaskFailed(t *testing.T) {
	tk := lazytask.New[string](nil, lazytask.WithName("nil"))
	assert.Equal(t, lazytask.Failed, tk.State(), "State()")
	if err := tk.Err(); !errors.Is(err, lazytask.ErrNilFunc) {
		t.Errorf("Err() = %v; want ErrNilFunc", err)
	}
	if _, err := tk.Await(bg); !errors.Is(err, lazytask.ErrNilFunc) {
		t.Errorf("Await(bg) = %v; want ErrNilFunc", err)
	}
	if err := tk.Start(); !errors.Is(err, lazytask.ErrStarted) {
		t.Errorf("Start() = %v; want ErrStarted", err)
	}
	assert.True(t, isClosed(tk.Done()), "Done() closed")
}

func TestTimeoutCountsFromStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type seen struct {
			deadlineIn time.Duration
			elapsed    time.Duration
			err        error
		}
		out := make(chan seen, 1)
		tk := lazytask.New(func(ctx context.Context) (int, error) {
			var s seen
			d, ok := ctx.Deadline()
			if !ok {
				t.Errorf("ctx.Deadline() ok = false; want true")
			}
			s.deadlineIn = time.Until(d)
			start := time.Now()
			<-ctx.Done()
			s.elapsed = time.Since(start)
			// Let the timer's goroutine finish canceling before reading
			// Err (see bugs_test.go for the window it would race with).
			synctest.Wait()
			s.err = ctx.Err()
			out <- s
			return 0, ctx.Err()
		}, lazytask.WithTimeout(time.Second))
		time.Sleep(time.Hour) // the task sits Lazy for an hour of fake time
		require.NoError(t, tk.Start())
		_, err := tk.Await(bg)
		s := <-out
		if s.deadlineIn != time.Second {
			t.Errorf("time.Until(ctx.Deadline()) at start = %v; want 1s (counted from start)", s.deadlineIn)
		}
		if s.elapsed != time.Second {
			t.Errorf("ctx.Done() closed %v after start; want 1s", s.elapsed)
		}
		if s.err != context.DeadlineExceeded {
			t.Errorf("ctx.Err() after the timeout = %v; want DeadlineExceeded", s.err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Await(bg) = %v; want DeadlineExceeded", err)
		}
	})
}

func TestTimeoutDoesNotFireForAFastTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tk := lazytask.New(func(ctx context.Context) (int, error) {
			time.Sleep(time.Second) // fake time: the task's work
			return 1, ctx.Err()
		}, lazytask.WithTimeout(time.Minute))
		require.NoError(t, tk.Start())
		v, err := tk.Await(bg)
		if v != 1 || err != nil {
			t.Errorf("Await(bg) = %v, %v; want 1, nil", v, err)
		}
		assert.Equal(t, lazytask.Succeeded, tk.State(), "State()")
	})
}

func TestDeadlineOptionCancelsTheContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := time.Now().Add(time.Hour)
		out := make(chan error, 1)
		tk := lazytask.New(func(ctx context.Context) (int, error) {
			<-ctx.Done()
			synctest.Wait()
			out <- ctx.Err()
			return 0, nil
		}, lazytask.WithDeadline(at))
		time.Sleep(time.Minute)
		require.NoError(t, tk.Start())
		_, _ = tk.Await(bg)
		if !time.Now().Equal(at) {
			t.Errorf("task ended at %v; want the deadline %v", time.Now(), at)
		}
		if err := <-out; err != context.DeadlineExceeded {
			t.Errorf("ctx.Err() after the deadline = %v; want DeadlineExceeded", err)
		}
	})
}

func TestTimingsAreOrderedAndFilledStepByStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGate()
		tk := lazytask.New(g.fn, lazytask.WithTimings())
		tm := tk.Timings()
		assert.False(t, tm.Created.IsZero(), "Timings().Created of a Lazy task is zero")
		assert.True(t, tm.Queued.IsZero() && tm.Started.IsZero() && tm.Finished.IsZero(),
			"Timings() of a Lazy task = %+v; want only Created", tm)

		time.Sleep(time.Hour)
		require.NoError(t, tk.Start())
		<-g.started
		tm = tk.Timings()
		assert.Equal(t, time.Hour, tm.Started.Sub(tm.Created), "Started - Created")
		assert.True(t, tm.Finished.IsZero(), "Timings().Finished while running = %v; want zero", tm.Finished)
		assert.Zero(t, tm.RunTime(), "RunTime() while running")

		time.Sleep(5 * time.Second)
		g.finish(1, nil)
		_, _ = tk.Await(bg)
		tm = tk.Timings()
		assert.True(t, tm.Queued.IsZero(), "Timings().Queued of a task started without a scheduler = %v; want zero", tm.Queued)
		assert.False(t, tm.Created.After(tm.Started), "Created %v after Started %v", tm.Created, tm.Started)
		assert.False(t, tm.Started.After(tm.Finished), "Started %v after Finished %v", tm.Started, tm.Finished)
		assert.Equal(t, 5*time.Second, tm.RunTime(), "RunTime()")
		assert.Zero(t, tm.QueueTime(), "QueueTime() of a task never queued")
		assert.Equal(t, tm, tk.Info().Timings, "Info().Timings")
	})
}

func TestTimingsHelpers(t *testing.T) {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tm := lazytask.Timings{Created: base, Queued: base.Add(time.Second), Started: base.Add(3 * time.Second), Finished: base.Add(10 * time.Second)}
	assert.Equal(t, 2*time.Second, tm.QueueTime(), "QueueTime()")
	assert.Equal(t, 7*time.Second, tm.RunTime(), "RunTime()")
	assert.Zero(t, lazytask.Timings{Created: base}.QueueTime(), "QueueTime() with no Queued")
	assert.Zero(t, lazytask.Timings{Started: base}.RunTime(), "RunTime() with no Finished")
}

func TestTimingsAreKeptOnlyWhenAskedFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ok := func(context.Context) (int, error) { time.Sleep(time.Second); return 1, nil }
		plain := lazytask.New(ok)
		timed := lazytask.New(ok, lazytask.WithTimings())
		bounded := lazytask.New(ok, lazytask.WithTimeout(time.Hour)) // a timeout counts from the start
		assert.False(t, plain.Options().KeepTimings, "Options().KeepTimings of a plain task")
		assert.True(t, timed.Options().KeepTimings, "Options().KeepTimings with WithTimings")
		for _, tk := range []*lazytask.Task[int]{plain, timed, bounded} {
			require.NoError(t, tk.Start())
			_, err := tk.Await(context.Background())
			require.NoError(t, err)
		}
		assert.Equal(t, lazytask.Timings{}, plain.Timings(), "Timings() of a task that did not ask for them")
		assert.Equal(t, lazytask.Timings{}, plain.Info().Timings, "Info().Timings of a task that did not ask for them")
		for name, tk := range map[string]*lazytask.Task[int]{"WithTimings": timed, "WithTimeout": bounded} {
			tm := tk.Timings()
			assert.False(t, tm.Created.IsZero(), "%s: Created", name)
			assert.Equal(t, time.Second, tm.RunTime(), "%s: RunTime()", name)
		}
	})
}
