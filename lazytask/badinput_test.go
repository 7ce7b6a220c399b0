package lazytask_test

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lazysched/lazysched/internal/testguard"
	"github.com/lazysched/lazysched/lazytask"
)

// The bad-input sweep: every exported function and method with nil, zero,
// negative, huge and after-the-end arguments. Each case returns its
// documented error, and each runs under a deadline so that a hang fails
// the case instead of the whole run.

func biFn(runs *atomic.Int32) func(context.Context) (int, error) {
	return func(context.Context) (int, error) {
		runs.Add(1)
		return 1, nil
	}
}

// biFailedAtCreation checks a task that New returned already Failed with
// want: every method answers without blocking, and the function never
// runs.
func biFailedAtCreation(t *testing.T, call string, h *lazytask.Task[int], runs *atomic.Int32, want error) {
	t.Helper()
	if st := h.State(); st != lazytask.Failed {
		t.Errorf("%s: State() = %v; want failed", call, st)
	}
	if err := h.Err(); !errors.Is(err, want) {
		t.Errorf("%s: Err() = %v; want %v", call, err, want)
	}
	if v, err := h.Result(); v != 0 || !errors.Is(err, want) {
		t.Errorf("%s: Result() = %d, %v; want 0, %v", call, v, err, want)
	}
	if _, err := h.Await(context.Background()); !errors.Is(err, want) {
		t.Errorf("%s: Await = %v; want %v", call, err, want)
	}
	select {
	case <-h.Done():
	default:
		t.Errorf("%s: Done() is not closed", call)
	}
	if err := h.Start(); !errors.Is(err, lazytask.ErrStarted) {
		t.Errorf("%s: Start() = %v; want ErrStarted", call, err)
	}
	if h.Cancel(nil) {
		t.Errorf("%s: Cancel(nil) = true; want false", call)
	}
	n := 0
	h.OnDone(func(int, error) { n++ })
	if n != 1 {
		t.Errorf("%s: OnDone ran its callback %d times before returning; want 1", call, n)
	}
	if info := h.Info(); !errors.Is(info.Err, want) || info.State != lazytask.Failed {
		t.Errorf("%s: Info() = %+v; want Failed with %v", call, info, want)
	}
	if runs.Load() != 0 {
		t.Errorf("%s: the function ran %d times; want 0", call, runs.Load())
	}
}

func TestBadInputNewWithANilFunctionIsFailedWithErrNilFunc(t *testing.T) {
	testguard.Case(t, "New(nil)", func(t *testing.T) {
		var runs atomic.Int32
		biFailedAtCreation(t, "New[int](nil)", lazytask.New[int](nil), &runs, lazytask.ErrNilFunc)
		biFailedAtCreation(t, "New[int](nil, WithWeight(0))", lazytask.New[int](nil, lazytask.WithWeight(0)), &runs, lazytask.ErrNilFunc)
	})
}

func TestBadInputInvalidOptionsFailTheTaskWithErrInvalidOption(t *testing.T) {
	type opt struct {
		name string
		o    lazytask.Option
	}
	bad := []opt{
		{"WithWeight(0)", lazytask.WithWeight(0)},
		{"WithWeight(-1)", lazytask.WithWeight(-1)},
		{"WithWeight(MinInt)", lazytask.WithWeight(math.MinInt)},
		{"WithTimeout(-1)", lazytask.WithTimeout(-1)},
		{"WithTimeout(MinInt64)", lazytask.WithTimeout(math.MinInt64)},
		{"WithOptions(Weight -5)", lazytask.WithOptions(lazytask.Options{Weight: -5})},
		{"WithOptions(Timeout -1)", lazytask.WithOptions(lazytask.Options{Timeout: -1})},
	}
	if strconv.IntSize == 64 {
		bad = append(bad,
			opt{"WithPriority(MaxInt32+1)", lazytask.WithPriority(math.MaxInt32 + 1)},
			opt{"WithPriority(MinInt32-1)", lazytask.WithPriority(math.MinInt32 - 1)},
			opt{"WithPriority(MaxInt)", lazytask.WithPriority(math.MaxInt)},
			opt{"WithPriority(MinInt)", lazytask.WithPriority(math.MinInt)},
		)
	}
	for _, tc := range bad {
		testguard.Case(t, tc.name, func(t *testing.T) {
			var runs atomic.Int32
			h := lazytask.New(biFn(&runs), tc.o)
			biFailedAtCreation(t, "New(fn, "+tc.name+")", h, &runs, lazytask.ErrInvalidOption)
			// A later valid option does not repair an earlier bad one.
			h = lazytask.New(biFn(&runs), tc.o, lazytask.WithName("after"))
			if h.State() != lazytask.Failed {
				t.Errorf("New(fn, %s, WithName) = %v; want failed", tc.name, h.State())
			}
		})
	}
}

func TestBadInputExtremeValidOptionsRunNormally(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    lazytask.Option
	}{
		{"WithPriority(MaxInt32)", lazytask.WithPriority(math.MaxInt32)},
		{"WithPriority(MinInt32)", lazytask.WithPriority(math.MinInt32)},
		{"WithWeight(MaxInt)", lazytask.WithWeight(math.MaxInt)},
		{"WithTimeout(0)", lazytask.WithTimeout(0)},
		{"WithTimeout(MaxInt64)", lazytask.WithTimeout(math.MaxInt64)},
		{"WithDeadline(zero)", lazytask.WithDeadline(time.Time{})},
		{"WithDeadline(far future)", lazytask.WithDeadline(time.Now().Add(100 * 365 * 24 * time.Hour))},
		{"WithName(\"\")", lazytask.WithName("")},
		{"WithLabel(\"\", \"\")", lazytask.WithLabel("", "")},
		{"WithOptions(zero)", lazytask.WithOptions(lazytask.Options{})},
		{"WithOptions(nil Labels)", lazytask.WithOptions(lazytask.Options{Labels: nil, Weight: 1})},
	} {
		testguard.Case(t, tc.name, func(t *testing.T) {
			h := lazytask.New(func(ctx context.Context) (int, error) {
				// A huge timeout or a far deadline must not end the
				// context at once (no overflow to the past).
				if err := ctx.Err(); err != nil {
					return 0, err
				}
				return 1, nil
			}, tc.o)
			if st := h.State(); st != lazytask.Lazy {
				testguard.Fatalf(t, "New(fn, %s) is %v (%v); want lazy", tc.name, st, h.Err())
			}
			if err := h.Start(); err != nil {
				testguard.Fatalf(t, "Start() = %v", err)
			}
			if v, err := h.Await(context.Background()); v != 1 || err != nil {
				t.Errorf("Await = %d, %v; want 1, nil", v, err)
			}
		})
	}
}

func TestBadInputPastDeadlineEndsTheRunAtOnce(t *testing.T) {
	testguard.Case(t, "WithDeadline(past)", func(t *testing.T) {
		h := lazytask.New(func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		}, lazytask.WithDeadline(time.Now().Add(-time.Hour)))
		if err := h.Start(); err != nil {
			testguard.Fatalf(t, "Start() = %v", err)
		}
		if _, err := h.Await(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Await = %v; want DeadlineExceeded", err)
		}
		if st := h.State(); st != lazytask.Failed {
			t.Errorf("State() = %v; want failed (a timeout is a failure)", st)
		}
	})
}

func TestBadInputNilOptionsAndCallbacksAreHarmless(t *testing.T) {
	testguard.Case(t, "New(fn, nil)", func(t *testing.T) {
		var runs atomic.Int32
		h := lazytask.New(biFn(&runs), nil, lazytask.WithName("x"), nil)
		// Not documented: a nil Option must not panic; the task is usable.
		if st := h.State(); st != lazytask.Lazy && !(st == lazytask.Failed && errors.Is(h.Err(), lazytask.ErrInvalidOption)) {
			t.Errorf("New(fn, nil option) is %v (%v)", st, h.Err())
		}
	})
	testguard.Case(t, "OnDone(nil)", func(t *testing.T) {
		var runs atomic.Int32
		h := lazytask.New(biFn(&runs))
		h.OnDone(nil)
		if err := h.Start(); err != nil {
			testguard.Fatalf(t, "Start() = %v", err)
		}
		_, _ = h.Await(context.Background())
		h.OnDone(nil) // after the end too
	})
	testguard.Case(t, "HandleOf outside a task", func(t *testing.T) {
		if h := lazytask.HandleOf(context.Background()); h != nil {
			t.Errorf("HandleOf(Background) = %v; want nil", h)
		}
		var none context.Context // a nil context is outside any task too
		if h := lazytask.HandleOf(none); h != nil {
			t.Errorf("HandleOf(nil) = %v; want nil", h)
		}
	})
}

func TestBadInputCallsBeforeTheEndAndAfterIt(t *testing.T) {
	testguard.Case(t, "Result and Err before the end", func(t *testing.T) {
		var runs atomic.Int32
		h := lazytask.New(biFn(&runs))
		if v, err := h.Result(); v != 0 || !errors.Is(err, lazytask.ErrNotDone) {
			t.Errorf("Result() of a Lazy task = %d, %v; want 0, ErrNotDone", v, err)
		}
		if err := h.Err(); !errors.Is(err, lazytask.ErrNotDone) {
			t.Errorf("Err() of a Lazy task = %v; want ErrNotDone", err)
		}
		if info := h.Info(); info.Err != nil {
			t.Errorf("Info().Err of a Lazy task = %v; want nil", info.Err)
		}
	})
	testguard.Case(t, "Await with an ended context on a Lazy task", func(t *testing.T) {
		var runs atomic.Int32
		h := lazytask.New(biFn(&runs))
		cause := errors.New("gave up")
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		if _, err := h.Await(ctx); err != cause {
			t.Errorf("Await(ended ctx) = %v; want its cause", err)
		}
		if err := h.Wait(ctx); err != cause {
			t.Errorf("Wait(ended ctx) = %v; want its cause", err)
		}
		if st := h.State(); st != lazytask.Lazy || runs.Load() != 0 {
			t.Errorf("after Await: %v, %d runs; want lazy, 0 runs", st, runs.Load())
		}
	})
	testguard.Case(t, "Start twice", func(t *testing.T) {
		var runs atomic.Int32
		h := lazytask.New(biFn(&runs))
		if err := h.Start(); err != nil {
			testguard.Fatalf(t, "first Start() = %v", err)
		}
		if err := h.Start(); !errors.Is(err, lazytask.ErrStarted) {
			t.Errorf("second Start() = %v; want ErrStarted", err)
		}
		_, _ = h.Await(context.Background())
		if err := h.Start(); !errors.Is(err, lazytask.ErrStarted) {
			t.Errorf("Start() after the end = %v; want ErrStarted", err)
		}
		if runs.Load() != 1 {
			t.Errorf("the function ran %d times; want 1", runs.Load())
		}
	})
	testguard.Case(t, "Cancel(nil), twice, then Start", func(t *testing.T) {
		var runs atomic.Int32
		h := lazytask.New(biFn(&runs))
		if !h.Cancel(nil) {
			t.Errorf("Cancel(nil) of a Lazy task = false; want true")
		}
		if err := h.Err(); err != context.Canceled {
			t.Errorf("Err() after Cancel(nil) = %v; want context.Canceled", err)
		}
		if h.Cancel(errors.New("again")) {
			t.Errorf("second Cancel = true; want false")
		}
		if err := h.Start(); !errors.Is(err, lazytask.ErrStarted) {
			t.Errorf("Start() after Cancel = %v; want ErrStarted", err)
		}
		if st := h.State(); st != lazytask.Canceled || runs.Load() != 0 {
			t.Errorf("State() = %v after %d runs; want canceled, 0 runs", st, runs.Load())
		}
	})
	testguard.Case(t, "Cancel after the end", func(t *testing.T) {
		var runs atomic.Int32
		h := lazytask.New(biFn(&runs))
		_ = h.Start()
		_, _ = h.Await(context.Background())
		if h.Cancel(errors.New("late")) {
			t.Errorf("Cancel after the end = true; want false")
		}
		if v, err := h.Result(); v != 1 || err != nil || h.State() != lazytask.Succeeded {
			t.Errorf("after a late Cancel: %v, %d, %v; want succeeded, 1, nil", h.State(), v, err)
		}
	})
}

func TestBadInputOutOfRangeValuesOfPlainTypes(t *testing.T) {
	testguard.Case(t, "State out of range", func(t *testing.T) {
		for _, s := range []lazytask.State{6, 7, 99, math.MaxUint32} {
			if got := s.String(); got != "invalid" {
				t.Errorf("State(%d).String() = %q; want \"invalid\"", uint32(s), got)
			}
			if s.Terminal() {
				t.Errorf("State(%d).Terminal() = true; want false", uint32(s))
			}
		}
	})
	testguard.Case(t, "zero Timings", func(t *testing.T) {
		var tm lazytask.Timings
		if tm.QueueTime() != 0 || tm.RunTime() != 0 {
			t.Errorf("zero Timings: QueueTime %v, RunTime %v; want 0, 0", tm.QueueTime(), tm.RunTime())
		}
	})
	testguard.Case(t, "zero and nil PanicError", func(t *testing.T) {
		var p lazytask.PanicError
		_ = p.Error()
		if err := p.Unwrap(); err != nil {
			t.Errorf("zero PanicError.Unwrap() = %v; want nil", err)
		}
		inner := errors.New("inner")
		if err := (&lazytask.PanicError{Value: inner}).Unwrap(); err != inner {
			t.Errorf("PanicError{Value: err}.Unwrap() = %v; want err", err)
		}
	})
}
