package limiter_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
)

// holders counts the slots callers hold, as the callers see them, and the
// peak of that count.
type holders struct{ cur, peak atomic.Int64 }

func (h *holders) take(n int64) int64 {
	cur := h.cur.Add(n)
	for peak := h.peak.Load(); cur > peak && !h.peak.CompareAndSwap(peak, cur); peak = h.peak.Load() {
	}
	return cur
}

func (h *holders) put(n int64) { h.cur.Add(-n) }

func TestWeightedNeverAdmitsMoreThanLimit(t *testing.T) {
	const (
		limit      = 5
		goroutines = 64
		rounds     = 200
	)
	w := newWeighted(t, limit)
	var h holders
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range rounds {
				n := int64(1 + (g+i)%3)
				if err := w.Acquire(context.Background(), n); err != nil {
					t.Errorf("Acquire(ctx, %d) = %v; want nil", n, err)
					return
				}
				if cur := h.take(n); cur > limit {
					t.Errorf("%d slots held after Acquire(ctx, %d); want at most %d", cur, n, limit)
				}
				runtime.Gosched()
				h.put(n)
				w.Release(n)
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, h.peak.Load(), int64(limit), "peak slots held")
	assert.Greater(t, h.peak.Load(), int64(1), "peak slots held: no concurrency seen")
	assert.Equal(t, int64(0), w.InUse())
}

// TestWeightedStaysConsistentUnderResizeAndCancel mixes Acquire, TryAcquire,
// cancellation and Resize, then checks that the limiter ends as good as new.
func TestWeightedStaysConsistentUnderResizeAndCancel(t *testing.T) {
	const (
		maxLimit   = 8
		goroutines = 32
		rounds     = 300
	)
	w := newWeighted(t, maxLimit)
	var h holders
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		r := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-stop:
				return
			default:
			}
			assert.NoError(t, w.Resize(1+r.Int64N(maxLimit)))
			runtime.Gosched()
		}
	})
	var workers sync.WaitGroup
	for g := range goroutines {
		workers.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 3))
			for range rounds {
				n := 1 + r.Int64N(4)
				if r.IntN(4) == 0 {
					if w.TryAcquire(n) {
						h.take(n)
						h.put(n)
						w.Release(n)
					}
					continue
				}
				ctx, cancel := context.WithCancel(context.Background())
				if r.IntN(3) == 0 {
					cancel() // sometimes before, sometimes during the wait
				} else {
					go func() { runtime.Gosched(); cancel() }()
				}
				err := w.Acquire(ctx, n)
				cancel()
				switch {
				case err == nil:
					if cur := h.take(n); cur > maxLimit {
						t.Errorf("%d slots held; want at most %d", cur, maxLimit)
					}
					runtime.Gosched()
					h.put(n)
					w.Release(n)
				case errors.Is(err, context.Canceled), errors.Is(err, limiter.ErrWeightTooLarge):
				default:
					t.Errorf("Acquire(ctx, %d) = %v; want nil, context.Canceled or ErrWeightTooLarge", n, err)
				}
			}
		})
	}
	workers.Wait()
	close(stop)
	wg.Wait()

	require.Equal(t, int64(0), w.InUse())
	require.NoError(t, w.Resize(maxLimit))
	assert.True(t, w.TryAcquire(maxLimit), "TryAcquire(%d) at the end", maxLimit)
	assert.False(t, w.TryAcquire(1), "TryAcquire(1) with all slots in use")
	w.Release(maxLimit)
	assert.NoError(t, w.Acquire(context.Background(), maxLimit))
}
