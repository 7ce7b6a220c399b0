package factory_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Lazy tasks that carry a context (WithContext) and whose handles are
// dropped at once, each observed, or not, in a random way: a saved Done
// channel, a callback, an Await cut short, a Completed loop that stopped
// and then a Done, an Enqueue into a scheduler (its queue holds it), a
// NewTask bound to a scope, a Start. With collections in between, the
// context's cancellation still reaches every task that something
// observes: each saved channel closes and each callback runs exactly
// once (a task collected under its observer would hang here), and the
// tasks nothing observes or holds are collected.
func TestHostileRandomCarriedTasksAreCanceledWhenObservedAndCollectedWhenNot(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 11))
		base, cancel := context.WithCancelCause(context.Background())
		s, err := scheduler.New(scheduler.WithLimit(1))
		require.NoError(t, err)
		block := make(chan struct{})
		_, err = scheduler.Go(s, func(context.Context) error { <-block; return nil }) // the queue stays queued
		require.NoError(t, err)
		over := errors.New("base over")
		type payload [64]byte
		var chans []<-chan struct{}
		var ran []*atomic.Int32
		var dropped []weak.Pointer[payload]
		fn := func(p *payload) func(context.Context) (int, error) {
			return func(ctx context.Context) (int, error) {
				<-ctx.Done()
				return int(p[0]), context.Cause(ctx)
			}
		}
		for i := range 200 {
			p := &payload{byte(i)}
			how := rng.IntN(8)
			func() {
				h := lazytask.New(fn(p), lazytask.WithContext(base))
				switch how {
				case 0: // dropped, nothing observes it
					dropped = append(dropped, weak.Make(p))
				case 1:
					chans = append(chans, h.Done())
				case 2:
					n := new(atomic.Int32)
					done := make(chan struct{})
					h.OnDone(func(int, error) {
						if n.Add(1) == 1 {
							close(done)
						}
					})
					ran = append(ran, n)
					chans = append(chans, done)
				case 3:
					ctx, stop := context.WithCancel(context.Background())
					stop()
					_, err := h.Await(ctx)
					require.ErrorIs(t, err, context.Canceled)
					chans = append(chans, h.Done())
				case 4:
					ctx, stop := context.WithCancel(context.Background())
					stop()
					for range factory.Completed(ctx, h) {
					}
					if rng.IntN(2) == 0 {
						chans = append(chans, h.Done())
					} else {
						dropped = append(dropped, weak.Make(p))
					}
				case 5:
					require.NoError(t, s.Enqueue(h))
					chans = append(chans, h.Done())
				case 6:
					b := scheduler.NewTask(s, fn(p), lazytask.WithContext(base))
					chans = append(chans, b.Done())
				case 7:
					require.NoError(t, h.Start())
					chans = append(chans, h.Done())
				}
			}()
			if i%50 == 0 {
				runtime.GC()
			}
		}
		for range 3 {
			runtime.GC()
		}
		for i, w := range dropped {
			assert.True(t, collectedW(w), "seed %d: dropped task %d, observed by nothing, is kept", seed, i)
		}
		cancel(over)
		for _, ch := range chans {
			<-ch // hangs if a watch lost a task that something observed
		}
		for i, n := range ran {
			assert.Equal(t, int32(1), n.Load(), "seed %d: callback %d", seed, i)
		}
		close(block)
		require.NoError(t, s.Shutdown(context.Background()))
	}
}
