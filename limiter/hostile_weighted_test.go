package limiter_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
)

// Acquire calls canceled at random moments (often as they are granted),
// Releases, TryAcquires and Resizes racing: no slot is lost or doubled, the
// held total never passes the largest limit set, and at the end the whole
// limit is free.
func TestWeightedCancelsAtGrantLoseNoSlot(t *testing.T) {
	for round := range 30 {
		w, err := limiter.NewWeighted(4)
		require.NoError(t, err)
		var held atomic.Int64
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(round), uint64(g)))
				for range 300 {
					n := int64(1 + rng.IntN(3))
					switch rng.IntN(4) {
					case 0:
						if w.TryAcquire(n) {
							if held.Add(n) > 6 {
								t.Errorf("held %d over every limit", held.Load())
							}
							held.Add(-n)
							w.Release(n)
						}
					case 1:
						_ = w.Resize(int64(3 + rng.IntN(4)))
					default:
						ctx, cancel := context.WithCancel(context.Background())
						if rng.IntN(2) == 0 {
							go cancel()
						}
						if w.Acquire(ctx, n) == nil {
							if held.Add(n) > 6 {
								t.Errorf("held %d over every limit", held.Load())
							}
							held.Add(-n)
							w.Release(n)
						}
						cancel()
					}
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: hung, in use %d limit %d", round, w.InUse(), w.Limit())
		}
		require.Zero(t, w.InUse(), "round %d", round)
		require.True(t, w.TryAcquire(w.Limit()), "round %d: the whole limit is free, no waiter left", round)
	}
}
