package limiter_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/lazysched/lazysched/internal/testguard"
	"github.com/lazysched/lazysched/limiter"
)

// The bad-input sweep: every exported function and method with zero,
// negative, huge and out-of-turn arguments. Each case returns its
// documented error or panics as documented, and each runs under a deadline
// so that a hang fails the case instead of the whole run.

// biMustPanic checks a documented panic.
func biMustPanic(t *testing.T, call string, f func()) {
	t.Helper()
	if p := testguard.Within(t, f); p == nil {
		t.Errorf("%s did not panic; want a panic", call)
	}
}

func biWeighted(t *testing.T, limit int64) *limiter.Weighted {
	t.Helper()
	w, err := limiter.NewWeighted(limit)
	if err != nil {
		panic(fmt.Sprintf("NewWeighted(%d) = %v", limit, err)) // cannot happen: limit >= 1
	}
	return w
}

// biUnchanged checks that a failed call left the limiter as it was.
func biUnchanged(t *testing.T, call string, w *limiter.Weighted, limit, inUse int64) {
	t.Helper()
	if l, u := w.Limit(), w.InUse(); l != limit || u != inUse {
		t.Errorf("after %s: Limit() = %d, InUse() = %d; want %d, %d (unchanged)", call, l, u, limit, inUse)
	}
}

func TestBadInputNewWeightedBelowOneIsErrInvalidLimit(t *testing.T) {
	for _, n := range []int64{0, -1, math.MinInt64} {
		testguard.Case(t, "NewWeighted", func(t *testing.T) {
			w, err := limiter.NewWeighted(n)
			if w != nil || !errors.Is(err, limiter.ErrInvalidLimit) {
				t.Errorf("NewWeighted(%d) = %v, %v; want nil, ErrInvalidLimit", n, w, err)
			}
		})
	}
}

func TestBadInputWeightedAcquireRefusesAtOnce(t *testing.T) {
	bg := context.Background()
	testguard.Case(t, "weight below 1", func(t *testing.T) {
		w := biWeighted(t, 3)
		for _, n := range []int64{0, -1, math.MinInt64} {
			if err := w.Acquire(bg, n); !errors.Is(err, limiter.ErrInvalidWeight) {
				t.Errorf("Acquire(%d) = %v; want ErrInvalidWeight", n, err)
			}
			if w.TryAcquire(n) {
				t.Errorf("TryAcquire(%d) = true; want false", n)
			}
		}
		biUnchanged(t, "Acquire below 1", w, 3, 0)
	})
	testguard.Case(t, "weight above the limit", func(t *testing.T) {
		w := biWeighted(t, 3)
		if err := w.Acquire(bg, 1); err != nil {
			testguard.Fatalf(t, "Acquire(1) = %v", err)
		}
		for _, n := range []int64{4, math.MaxInt64} {
			if err := w.Acquire(bg, n); !errors.Is(err, limiter.ErrWeightTooLarge) {
				t.Errorf("Acquire(%d) with limit 3 = %v; want ErrWeightTooLarge at once", n, err)
			}
			if w.TryAcquire(n) {
				t.Errorf("TryAcquire(%d) with limit 3 = true; want false", n)
			}
		}
		biUnchanged(t, "Acquire above the limit", w, 3, 1)
	})
	testguard.Case(t, "an ended context wins over free slots", func(t *testing.T) {
		w := biWeighted(t, 3)
		ctx, cancel := context.WithCancel(bg)
		cancel()
		if err := w.Acquire(ctx, 1); !errors.Is(err, context.Canceled) {
			t.Errorf("Acquire(ended ctx, 1) = %v; want context.Canceled", err)
		}
		biUnchanged(t, "Acquire with an ended context", w, 3, 0)
	})
	testguard.Case(t, "the limit MaxInt64", func(t *testing.T) {
		w := biWeighted(t, math.MaxInt64)
		if err := w.Acquire(bg, math.MaxInt64); err != nil {
			testguard.Fatalf(t, "Acquire(MaxInt64) with limit MaxInt64 = %v", err)
		}
		if w.TryAcquire(1) {
			t.Errorf("TryAcquire(1) with every slot taken = true")
		}
		w.Release(math.MaxInt64)
		biUnchanged(t, "Release(MaxInt64)", w, math.MaxInt64, 0)
	})
}

func TestBadInputWeightedReleasePanicsAsDocumented(t *testing.T) {
	w := biWeighted(t, 3)
	biMustPanic(t, "Release(1) with nothing held", func() { w.Release(1) })
	biMustPanic(t, "Release(-1)", func() { w.Release(-1) })
	if err := w.Acquire(context.Background(), 1); err != nil {
		t.Fatalf("Acquire(1) = %v", err)
	}
	biMustPanic(t, "Release(2) with 1 held", func() { w.Release(2) })
	biMustPanic(t, "Release(MinInt64)", func() { w.Release(math.MinInt64) })
	testguard.Case(t, "Release(0)", func(t *testing.T) { w.Release(0) })
	biUnchanged(t, "the panicking Releases", w, 3, 1)
	w.Release(1)
}

func TestBadInputWeightedResize(t *testing.T) {
	bg := context.Background()
	testguard.Case(t, "below 1", func(t *testing.T) {
		w := biWeighted(t, 3)
		for _, n := range []int64{0, -1, math.MinInt64} {
			if err := w.Resize(n); !errors.Is(err, limiter.ErrInvalidLimit) {
				t.Errorf("Resize(%d) = %v; want ErrInvalidLimit", n, err)
			}
		}
		biUnchanged(t, "Resize below 1", w, 3, 0)
	})
	testguard.Case(t, "to MaxInt64 and back", func(t *testing.T) {
		w := biWeighted(t, 3)
		if err := w.Resize(math.MaxInt64); err != nil {
			testguard.Fatalf(t, "Resize(MaxInt64) = %v", err)
		}
		if err := w.Acquire(bg, math.MaxInt64-1); err != nil {
			testguard.Fatalf(t, "Acquire(MaxInt64-1) = %v", err)
		}
		if err := w.Resize(1); err != nil {
			testguard.Fatalf(t, "Resize(1) = %v", err)
		}
		w.Release(math.MaxInt64 - 1)
		if !w.TryAcquire(1) || w.TryAcquire(1) {
			t.Errorf("after Resize(1): TryAcquire took the wrong number of slots")
		}
		biUnchanged(t, "Resize(1)", w, 1, 1)
	})
	testguard.Case(t, "below a waiter's weight fails the waiter", func(t *testing.T) {
		w := biWeighted(t, 3)
		if err := w.Acquire(bg, 3); err != nil {
			testguard.Fatalf(t, "Acquire(3) = %v", err)
		}
		got := make(chan error, 1)
		go func() { got <- w.Acquire(bg, 2) }()
		// Whether the waiter is already queued (Resize fails it) or not yet
		// (Acquire then refuses it at once), it gets ErrWeightTooLarge.
		if err := w.Resize(1); err != nil {
			testguard.Fatalf(t, "Resize(1) = %v", err)
		}
		if err := <-got; !errors.Is(err, limiter.ErrWeightTooLarge) {
			t.Errorf("Acquire(2) with Resize(1) = %v; want ErrWeightTooLarge", err)
		}
		biUnchanged(t, "the failed waiter", w, 1, 3)
		w.Release(3)
	})
}

func TestBadInputCounter(t *testing.T) {
	testguard.Case(t, "zero value", func(t *testing.T) {
		var c limiter.Counter
		if !c.Unlimited() || c.Limit() != 0 || c.InUse() != 0 || c.Over() != 0 {
			t.Errorf("zero Counter: Unlimited %v, Limit %d, InUse %d, Over %d; want true, 0, 0, 0", c.Unlimited(), c.Limit(), c.InUse(), c.Over())
		}
		if !c.Fits(math.MaxInt64) {
			t.Errorf("zero Counter: Fits(MaxInt64) = false; want true")
		}
		c.Take(math.MaxInt64)
		c.Put(math.MaxInt64)
	})
	testguard.Case(t, "limits below 1", func(t *testing.T) {
		var c limiter.Counter
		for _, n := range []int64{0, -1, math.MinInt64} {
			if err := c.Init(n); !errors.Is(err, limiter.ErrInvalidLimit) {
				t.Errorf("Init(%d) = %v; want ErrInvalidLimit", n, err)
			}
			if err := c.SetLimit(n); !errors.Is(err, limiter.ErrInvalidLimit) {
				t.Errorf("SetLimit(%d) = %v; want ErrInvalidLimit", n, err)
			}
		}
		if !c.Unlimited() {
			t.Errorf("a refused Init or SetLimit changed the Counter")
		}
		if err := c.Init(2); err != nil {
			testguard.Fatalf(t, "Init(2) = %v", err)
		}
		c.Take(1)
		if err := c.SetLimit(0); !errors.Is(err, limiter.ErrInvalidLimit) || c.Limit() != 2 || c.InUse() != 1 {
			t.Errorf("SetLimit(0) = %v, leaving Limit %d, InUse %d; want ErrInvalidLimit, 2, 1", err, c.Limit(), c.InUse())
		}
	})
	testguard.Case(t, "huge requests do not overflow", func(t *testing.T) {
		var c limiter.Counter
		_ = c.Init(math.MaxInt64)
		c.Take(math.MaxInt64 - 1)
		if c.Fits(2) || c.Fits(math.MaxInt64) {
			t.Errorf("Fits beyond the limit = true; want false")
		}
		var d limiter.Counter
		_ = d.Init(2)
		d.Take(2)
		d.Force(math.MaxInt64 - 2)
		if got := d.Over(); got != math.MaxInt64-2 {
			t.Errorf("Over() after Force(MaxInt64-2) past a full limit of 2 = %d; want %d", got, int64(math.MaxInt64-2))
		}
	})
	var c limiter.Counter
	_ = c.Init(2)
	biMustPanic(t, "Take(-1)", func() { c.Take(-1) })
	biMustPanic(t, "Take(3) over a limit of 2", func() { c.Take(3) })
	biMustPanic(t, "Force(-1)", func() { c.Force(-1) })
	biMustPanic(t, "Put(-1)", func() { c.Put(-1) })
	biMustPanic(t, "Put(1) with nothing taken", func() { c.Put(1) })
	c.Take(2)
	biMustPanic(t, "Put(3) with 2 taken", func() { c.Put(3) })
	if c.InUse() != 2 {
		t.Errorf("the panicking calls changed InUse to %d; want 2", c.InUse())
	}
}

// A zero Weighted (not made by NewWeighted) refuses every slot, as its doc
// says, and its Resize panics naming the mistake instead of dereferencing
// a nil semaphore.
func TestBadInputZeroWeighted(t *testing.T) {
	var w limiter.Weighted
	if err := w.Acquire(context.Background(), 1); !errors.Is(err, limiter.ErrWeightTooLarge) {
		t.Errorf("zero Weighted: Acquire(1) = %v; want ErrWeightTooLarge", err)
	}
	if w.TryAcquire(1) {
		t.Error("zero Weighted: TryAcquire(1) = true; want false")
	}
	const want = "limiter: Resize on a zero Weighted (make one with NewWeighted)"
	if p := testguard.Within(t, func() { _ = w.Resize(4) }); p != want {
		t.Errorf("zero Weighted: Resize(4) panicked with %v; want %q", p, want)
	}
}
