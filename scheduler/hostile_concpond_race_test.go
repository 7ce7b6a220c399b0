package scheduler_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// One unbound lazytask.New handle offered at once to two schedulers (by
// Enqueue and Force) and started by hand: exactly one of them takes it, it
// runs once, its callback runs once, and each scheduler's counters add up
// with the task counted only by the one that took it.
func TestPeersOneLazyHandleRacedIntoTwoSchedulers(t *testing.T) {
	a := startScheduler(t, scheduler.WithLimit(2))
	b := startScheduler(t, scheduler.WithLimit(2), scheduler.WithQueueLimit(1000))
	const n = 300
	var runs, cbs atomic.Int32
	var tookA, tookB, tookHand atomic.Int32
	who := []*atomic.Int32{&tookA, &tookB, &tookB, &tookA, &tookHand}
	cbDone := make(chan struct{}, n)
	hs := make([]*lazytask.Task[int], n)
	for i := range n {
		h := lazytask.New(func(ctx context.Context) (int, error) { runs.Add(1); return i, nil })
		h.OnDone(func(int, error) { cbs.Add(1); cbDone <- struct{}{} })
		hs[i] = h
		var wg sync.WaitGroup
		ops := []func() error{
			func() error { return a.Enqueue(h) },
			func() error { return b.Force(h) },
			func() error { return b.Enqueue(h) },
			func() error { return a.Force(h) },
			h.Start,
		}
		var ok [5]atomic.Bool
		for j, op := range ops {
			wg.Go(func() { ok[j].Store(op() == nil) })
		}
		wg.Wait()
		inA, inB := ok[0].Load() || ok[3].Load(), ok[1].Load() || ok[2].Load()
		assert.False(t, inA && inB, "task %d taken by both schedulers: %v", i, []bool{ok[0].Load(), ok[1].Load(), ok[2].Load(), ok[3].Load(), ok[4].Load()})
		assert.False(t, ok[0].Load() && ok[2].Load(), "task %d enqueued twice", i)
		switch {
		case inA:
			who[0].Add(1)
		case inB:
			who[1].Add(1)
		default:
			assert.True(t, ok[4].Load(), "task %d: nobody took it", i)
			who[4].Add(1)
		}
	}
	for _, h := range hs {
		_, err := h.Await(bg)
		require.NoError(t, err)
	}
	require.NoError(t, a.Wait(bg))
	require.NoError(t, b.Wait(bg))
	assert.Equal(t, int32(n), runs.Load(), "runs")
	for range n {
		<-cbDone
	}
	assert.Equal(t, int32(n), cbs.Load(), "callbacks")
	sa, sb := a.Stats(), b.Stats()
	statsAddUp(t, sa, "a")
	statsAddUp(t, sb, "b")
	assert.Equal(t, uint64(tookA.Load()), sa.Created, "a.Stats().Created")
	assert.Equal(t, uint64(tookB.Load()), sb.Created, "b.Stats().Created")
	assert.Equal(t, sa.Created, sa.Succeeded, "a.Stats().Succeeded")
	assert.Equal(t, sb.Created, sb.Succeeded, "b.Stats().Succeeded")
	t.Logf("a %d, b %d, by hand %d", tookA.Load(), tookB.Load(), tookHand.Load())
}
