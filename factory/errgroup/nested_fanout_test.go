package errgroup_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Random trees of nested groups, awaits and Gathers on one scheduler of
// cap 1 to 3, with weights 1 and 2: each node either returns, or fans out to one to three
// children with an errgroup.In group made with its own context (a function
// of an outer group has only the group's), with Submit and Await, or with
// factory.Gather (whose tasks carry the values of the context it is given,
// a group's among them). Every tree must
// end (I9), with the counters back to 0. A nested group's wait used to lend
// the slot of any running function of the outer group rather than of the
// function that waited, and a group made in a Gather's task from a
// function's context took that task for a function of the outer group:
// the waiting one's slot stayed held, and a few trees in 450 hung with
// every task waiting (a hostile review, 2026-12-06).
func TestNestedGroupsAndAwaitsInRandomTreesEnd(t *testing.T) {
	var node func(rng *rand.Rand, s *scheduler.Scheduler, limit, depth int) func(ctx context.Context) error
	node = func(rng *rand.Rand, s *scheduler.Scheduler, limit, depth int) func(ctx context.Context) error {
		n := 0
		if depth > 0 && rng.IntN(4) > 0 {
			n = 1 + rng.IntN(3)
		}
		kind := rng.IntN(3)              // a group, awaits, or Gather
		w := 1 + rng.IntN(min(2, limit)) // the children's weight (a group's functions: 1)
		kids := make([]func(ctx context.Context) error, n)
		for i := range kids {
			kids[i] = node(rand.New(rand.NewPCG(rng.Uint64(), 1)), s, limit, depth-1)
		}
		return func(ctx context.Context) error {
			if n == 0 {
				return nil
			}
			if kind == 2 {
				fns := make([]func(ctx context.Context) (struct{}, error), len(kids))
				for i, k := range kids {
					fns[i] = func(ctx context.Context) (struct{}, error) { return struct{}{}, k(ctx) }
				}
				_, err := factory.Gather(ctx, factory.WithOptions(s, lazytask.WithWeight(w)), fns...)
				return err
			}
			if kind == 0 {
				g, gctx := errgroup.In(ctx, s.Root())
				for _, k := range kids {
					g.Go(func() error { return k(gctx) })
				}
				return g.Wait()
			}
			var hs []interface{ Wait(context.Context) error }
			for _, k := range kids {
				h, err := scheduler.Go(s, k, lazytask.WithWeight(w))
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
				h, err := scheduler.Go(s, node(rng, s, limit, 4))
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
