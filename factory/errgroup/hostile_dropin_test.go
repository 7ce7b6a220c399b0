package errgroup_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/scheduler"
)

// guard fails the test if done is not closed in time (a hang).
func guard(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("hang: %s", what)
	}
}

func TestHostileDropinZeroGroupWaitWithNoGo(t *testing.T) {
	var g errgroup.Group
	assert.NoError(t, g.Wait(), "Wait with no Go")
	assert.NoError(t, g.Wait(), "second Wait with no Go")
	g.Go(func() error { return nil })
	assert.NoError(t, g.Wait(), "Wait after a Go following a Wait")
}

func TestHostileDropinWithContextCanceledByWaitWithNoError(t *testing.T) {
	g, ctx := errgroup.WithContext(bg)
	g.Go(func() error { return nil })
	require.NoError(t, g.Wait())
	require.Error(t, ctx.Err(), "ctx after Wait")
	assert.Same(t, context.Canceled, context.Cause(ctx), "Cause after a clean Wait")
}

func TestHostileDropinWithContextParentCause(t *testing.T) {
	parent, cancel := context.WithCancelCause(bg)
	g, ctx := errgroup.WithContext(parent)
	stop := errors.New("stop")
	g.Go(func() error { <-ctx.Done(); return context.Cause(ctx) })
	cancel(stop)
	assert.Same(t, stop, g.Wait(), "Wait after parent canceled")
}

func TestHostileDropinReusedGroupKeepsTheFirstError(t *testing.T) {
	g, ctx := errgroup.WithContext(bg)
	first := errors.New("first")
	g.Go(func() error { return first })
	require.Same(t, first, g.Wait())
	// x/sync: the group keeps its first error and its canceled context.
	g.Go(func() error { return errors.New("second") })
	assert.Same(t, first, g.Wait(), "Wait of the second round")
	assert.Same(t, first, context.Cause(ctx))
}

func TestHostileDropinThousandsOfGoUnderALimit(t *testing.T) {
	var g errgroup.Group
	g.SetLimit(7)
	var cur, peak, ran atomic.Int64
	for range 5000 {
		g.Go(func() error {
			n := cur.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			runtime.Gosched()
			cur.Add(-1)
			ran.Add(1)
			return nil
		})
	}
	require.NoError(t, g.Wait())
	assert.Equal(t, int64(5000), ran.Load())
	assert.LessOrEqual(t, peak.Load(), int64(7), "active functions over the limit")
	goleak.VerifyNone(t)
}

func TestHostileDropinThousandsOfGoNoLimit(t *testing.T) {
	var g errgroup.Group
	var ran atomic.Int64
	for range 5000 {
		g.Go(func() error { ran.Add(1); return nil })
	}
	require.NoError(t, g.Wait())
	assert.Equal(t, int64(5000), ran.Load())
	goleak.VerifyNone(t)
}

func TestHostileDropinGoexitReleasesTheToken(t *testing.T) {
	var g errgroup.Group
	g.SetLimit(1)
	g.Go(func() error { runtime.Goexit(); return nil })
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.Go(func() error { return nil })
	}()
	guard(t, done, "Go after a Goexit at limit 1")
	require.NoError(t, g.Wait())
}

func TestHostileDropinTryGoFromInsideAtLimitOne(t *testing.T) {
	var g errgroup.Group
	g.SetLimit(1)
	var inner atomic.Bool
	g.Go(func() error {
		inner.Store(g.TryGo(func() error { return nil }))
		return nil
	})
	require.NoError(t, g.Wait())
	assert.False(t, inner.Load(), "TryGo from inside at limit 1")
}

func TestHostileDropinGoFromInsideAtLimitTwo(t *testing.T) {
	var g errgroup.Group
	g.SetLimit(2)
	var n atomic.Int32
	var rec func(d int) func() error
	rec = func(d int) func() error {
		return func() error {
			n.Add(1)
			if d > 0 {
				g.Go(rec(d - 1)) // blocks until the token of the previous level... at limit 2 this chain proceeds
			}
			return nil
		}
	}
	g.Go(rec(10))
	done := make(chan struct{})
	go func() { _ = g.Wait(); close(done) }()
	guard(t, done, "chain of Go from inside at limit 2")
	assert.Equal(t, int32(11), n.Load())
}

func TestHostileDropinNestedZeroGroups(t *testing.T) {
	var outer errgroup.Group
	var sum atomic.Int64
	for i := range 20 {
		outer.Go(func() error {
			var inner errgroup.Group
			inner.SetLimit(2)
			for j := range 20 {
				inner.Go(func() error { sum.Add(int64(i*20 + j)); return nil })
			}
			return inner.Wait()
		})
	}
	require.NoError(t, outer.Wait())
	assert.Equal(t, int64(399*400/2), sum.Load())
	goleak.VerifyNone(t)
}

func TestHostileDropinConcurrentWaits(t *testing.T) {
	var g errgroup.Group
	release := make(chan struct{})
	doom := errors.New("doom")
	g.Go(func() error { <-release; return doom })
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- g.Wait() }()
	}
	close(release)
	for range 3 {
		select {
		case err := <-errs:
			assert.Same(t, doom, err)
		case <-time.After(10 * time.Second):
			t.Fatal("hang: concurrent Waits")
		}
	}
}

func TestHostileDropinSetLimitNegativeWhileActiveUnderALimit(t *testing.T) {
	// x/sync: SetLimit(-1) never panics; the group has no limit after it.
	var g errgroup.Group
	g.SetLimit(1)
	release := make(chan struct{})
	g.Go(func() error { <-release; return nil })
	assert.NotPanics(t, func() { g.SetLimit(-1) })
	assert.True(t, g.TryGo(func() error { return nil }), "TryGo with no limit")
	close(release)
	done := make(chan struct{})
	go func() { _ = g.Wait(); close(done) }()
	guard(t, done, "Wait after SetLimit(-1)")
	assert.NotPanics(t, func() { g.SetLimit(1) }, "SetLimit after Wait")
	assert.True(t, g.TryGo(func() error { return nil }))
	require.NoError(t, g.Wait())
}

func TestHostileDropinInQueuedFunctionsRunAfterAnError(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	g, _ := errgroup.In(bg, s)
	doom := errors.New("doom")
	var ran atomic.Int32
	g.Go(func() error { return doom })
	for range 5 {
		g.Go(func() error { ran.Add(1); return nil })
	}
	assert.Same(t, doom, waitBounded(t, g))
	// x/sync calls every function given to Go, error or none.
	assert.Equal(t, int32(5), ran.Load(), "functions run after the first error")
}

func TestHostileDropinInReuseAfterWait(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	g, ctx := errgroup.In(bg, s)
	g.Go(func() error { return nil })
	require.NoError(t, waitBounded(t, g))
	require.Error(t, ctx.Err())
	var ran atomic.Bool
	g.Go(func() error { ran.Store(true); return nil })
	require.NoError(t, waitBounded(t, g))
	assert.True(t, ran.Load())
}

func TestHostileDropinInGoexit(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	g, _ := errgroup.In(bg, s)
	g.SetLimit(1)
	g.Go(func() error { runtime.Goexit(); return nil })
	var ran atomic.Bool
	g.Go(func() error { ran.Store(true); return nil })
	require.NoError(t, waitBounded(t, g))
	assert.True(t, ran.Load())
}

func TestHostileDropinWaitGroupStyleManyRounds(t *testing.T) {
	var g errgroup.Group
	var mu sync.Mutex
	total := 0
	for r := range 50 {
		for range 10 {
			g.Go(func() error { mu.Lock(); total += r; mu.Unlock(); return nil })
		}
		require.NoError(t, g.Wait())
	}
	assert.Equal(t, 10*49*50/2, total)
	goleak.VerifyNone(t)
}
