package scheduler_test

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// tasks that SubmitWait more tasks from inside (lending their slots),
// with contexts that end at random, cancels and force-runs: nothing hangs,
// nothing is left over the cap, Stats add up.
func TestSubmitWaitFromInsideMix(t *testing.T) {
	for round := range 20 {
		s := startScheduler(t, scheduler.WithLimit(2), scheduler.WithQueueLimit(2))
		var inner atomic.Int64
		var outers []*lazytask.Task[int]
		for i := range 12 {
			rng := rand.New(rand.NewPCG(uint64(round), uint64(i)))
			d1 := time.Duration(rng.IntN(3000)) * time.Microsecond
			h, err := scheduler.SubmitWait(bounded(t), s, func(ctx context.Context) (int, error) {
				wctx, cancel := context.WithTimeout(ctx, d1)
				defer cancel()
				for range 3 {
					h, err := scheduler.SubmitWait(wctx, s, func(ctx context.Context) (int, error) {
						inner.Add(1)
						time.Sleep(200 * time.Microsecond)
						return 1, nil
					})
					if err != nil {
						return 0, nil
					}
					_ = h
				}
				return 1, nil
			})
			require.NoError(t, err)
			outers = append(outers, h)
			switch rng.IntN(6) {
			case 0:
				h.Cancel(nil)
			case 1:
				_ = s.Force(h)
			}
		}
		ctx, cancel := context.WithTimeout(bg, 20*time.Second)
		for i, h := range outers {
			_, _ = h.Await(ctx)
			require.True(t, h.State().Terminal(), "round %d: outer %d hangs: %+v", round, i, s.Stats())
		}
		require.NoError(t, s.Shutdown(ctx), "round %d: %+v", round, s.Stats())
		cancel()
		st := s.Stats()
		assert.Zero(t, st.OverCap+st.OverCapSlots+st.InUse+st.Running+st.Queued+st.Lazy, "round %d: %+v", round, st)
		assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected, "round %d: %+v", round, st)
	}
}
