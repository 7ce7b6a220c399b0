package pondexec_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/alitto/pond/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// once counts runs per index and reports any index run twice.
type once struct {
	mu  sync.Mutex
	ran map[int]int
}

func (o *once) mark(i int) {
	o.mu.Lock()
	if o.ran == nil {
		o.ran = make(map[int]int)
	}
	o.ran[i]++
	o.mu.Unlock()
}

func (o *once) check(t *testing.T, n int) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	assert.Len(t, o.ran, n, "every task ran")
	for i, k := range o.ran {
		if k != 1 {
			t.Errorf("task %d ran %d times", i, k)
		}
	}
}

// A pool resized down, then up, while its workers chain the scheduler's
// tasks, and flooded by its own users meanwhile: every task of the
// scheduler runs once, within its cap; every function given to the pool
// runs; the pool stops.
func TestHostileYieldsPoolResizedAndFloodedWhileChaining(t *testing.T) {
	pool := pond.NewPool(4)
	s := newScheduler(t, pool, scheduler.WithLimit(4))
	var o once
	var now, peak atomic.Int64
	gate := make(chan struct{})
	const tasks = 400
	hs := make([]*lazytask.Task[struct{}], tasks)
	for i := range tasks {
		h, err := scheduler.Go(s, func(context.Context) error {
			if i < 4 {
				<-gate
			}
			v := now.Add(1)
			for {
				old := peak.Load()
				if v <= old || peak.CompareAndSwap(old, v) {
					break
				}
			}
			defer now.Add(-1)
			o.mark(i)
			return nil
		})
		require.NoError(t, err)
		hs[i] = h
	}
	var direct atomic.Int64
	const flood = 200
	close(gate)
	pool.Resize(1)
	for range flood {
		require.NoError(t, pool.Go(func() { direct.Add(1) }))
	}
	pool.Resize(3)
	ctx := bounded(t)
	for _, h := range hs {
		require.NoError(t, h.Wait(ctx))
	}
	require.NoError(t, s.Shutdown(ctx))
	pool.StopAndWait()
	o.check(t, tasks)
	assert.LessOrEqual(t, peak.Load(), int64(4), "the scheduler's cap holds")
	assert.Equal(t, int64(flood), direct.Load(), "every function given to the pool ran")
}

// Tasks that panic on pond workers, one after another at cap 1 so that
// each is chained onto the goroutine of the last, with the scheduler's
// recovery: each panicking task ends Failed with a *lazytask.PanicError,
// each other one runs once, and Shutdown returns. (Not with
// WithoutPanicRecovery and pond's recovery: a run that gets a goroutine of
// its own, a full pool's or a task handed back while the pool has work
// waiting, crashes the program there; see the report.)
func TestHostileYieldsPanicsOnPondWorkers(t *testing.T) {
	for _, name := range []string{"scheduler recovers"} {
		t.Run(name, func(t *testing.T) {
			pool := pond.NewPool(2)
			t.Cleanup(pool.StopAndWait)
			s := newScheduler(t, pool, scheduler.WithLimit(1))
			var o once
			gate := make(chan struct{})
			const tasks = 60
			hs := make([]*lazytask.Task[struct{}], tasks)
			for i := range tasks {
				h, err := scheduler.Go(s, func(context.Context) error {
					if i == 0 {
						<-gate
					}
					o.mark(i)
					if i%3 == 1 {
						panic("boom")
					}
					return nil
				})
				require.NoError(t, err)
				hs[i] = h
			}
			close(gate)
			ctx := bounded(t)
			for i, h := range hs {
				err := h.Wait(ctx)
				require.False(t, errors.Is(err, context.DeadlineExceeded), "task %d never ended", i)
				if i%3 == 1 {
					var pe *lazytask.PanicError
					assert.ErrorAs(t, err, &pe, "task %d", i)
					assert.Equal(t, lazytask.Failed, h.State())
				} else {
					assert.NoError(t, err, "task %d", i)
				}
			}
			require.NoError(t, s.Shutdown(ctx))
			o.check(t, tasks)
		})
	}
}

// Two schedulers on one pool (each with WithPool's own feeder, which the
// doc advises against but does not forbid), streaming at once while the
// pool's own users flood it: every task of each runs once, and the pool's
// work runs too.
func TestHostileYieldsPoolSharedByTwoSchedulers(t *testing.T) {
	pool := pond.NewPool(2)
	a := newScheduler(t, pool, scheduler.WithLimit(2))
	b := newScheduler(t, pool, scheduler.WithLimit(2))
	var oa, ob once
	const tasks = 200
	var hs []*lazytask.Task[struct{}]
	var direct atomic.Int64
	for i := range tasks {
		ha, err := scheduler.Go(a, func(context.Context) error { oa.mark(i); return nil })
		require.NoError(t, err)
		hb, err := scheduler.Go(b, func(context.Context) error { ob.mark(i); return nil })
		require.NoError(t, err)
		hs = append(hs, ha, hb)
		if i%4 == 0 {
			require.NoError(t, pool.Go(func() { direct.Add(1) }))
		}
	}
	ctx := bounded(t)
	for _, h := range hs {
		require.NoError(t, h.Wait(ctx))
	}
	require.NoError(t, a.Shutdown(ctx))
	require.NoError(t, b.Shutdown(ctx))
	pool.StopAndWait()
	oa.check(t, tasks)
	ob.check(t, tasks)
	assert.Equal(t, int64(tasks/4), direct.Load())
}
