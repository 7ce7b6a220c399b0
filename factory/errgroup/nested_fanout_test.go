package errgroup_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/scheduler"
)

// Random trees of nested groups and awaits on one scheduler of cap 1 to
// 3: each node either returns, or fans out to one to three children with
// an errgroup.In group made with its own context (a function of an outer
// group has only the group's), or with Submit and Await. Every tree must
// end (I9), with the counters back to 0. A nested group's wait used to lend
// the slot of any running function of the outer group rather than of the
// function that waited: the waiting one's slot stayed held, and a few trees
// in 450 hung with every task waiting (a hostile review, 2026-12-06).
func TestNestedGroupsAndAwaitsInRandomTreesEnd(t *testing.T) {
	var node func(rng *rand.Rand, s *scheduler.Scheduler, depth int) func(ctx context.Context) error
	node = func(rng *rand.Rand, s *scheduler.Scheduler, depth int) func(ctx context.Context) error {
		n := 0
		if depth > 0 && rng.IntN(4) > 0 {
			n = 1 + rng.IntN(3)
		}
		group := rng.IntN(2) == 0
		kids := make([]func(ctx context.Context) error, n)
		for i := range kids {
			kids[i] = node(rand.New(rand.NewPCG(rng.Uint64(), 1)), s, depth-1)
		}
		return func(ctx context.Context) error {
			if n == 0 {
				return nil
			}
			if group {
				g, gctx := errgroup.In(ctx, s.Root())
				for _, k := range kids {
					g.Go(func() error { return k(gctx) })
				}
				return g.Wait()
			}
			var hs []interface{ Wait(context.Context) error }
			for _, k := range kids {
				h, err := scheduler.Go(s, k)
				if err != nil {
					return err
				}
				hs = append(hs, h)
			}
			for _, h := range hs {
				if err := h.Wait(ctx); err != nil {
					return err
				}
			}
			return nil
		}
	}
	for seed := range uint64(150) {
		for limit := 1; limit <= 3; limit++ {
			s := newScheduler(t, scheduler.WithLimit(limit))
			rng := rand.New(rand.NewPCG(seed, 7))
			bound, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var hs []interface{ Wait(context.Context) error }
			for range 6 {
				h, err := scheduler.Go(s, node(rng, s, 4))
				require.NoError(t, err)
				hs = append(hs, h)
			}
			for _, h := range hs {
				require.NoError(t, h.Wait(bound), "seed %d, cap %d: a tree did not end (stats %+v)", seed, limit, s.Stats())
			}
			cancel()
			require.NoError(t, s.Shutdown(context.Background()))
			st := s.Stats()
			assert.Zero(t, st.InUse, "seed %d, cap %d: InUse", seed, limit)
			assert.Zero(t, st.OverCap, "seed %d, cap %d: OverCap", seed, limit)
		}
	}
}
