package scheduler_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Random bursts with no cap (starts.go): tasks that return, block until
// released, submit a burst of their own and await it, call
// runtime.Goexit, panic, cancel themselves; a scope whose OnStart and
// OnDone hooks call runtime.Goexit for some tasks; handles and scopes
// canceled while the burst is still being started; then Shutdown. Every task ends once,
// the counters balance, nothing hangs (synctest reports a deadlock) and
// no goroutine is left (goleak).
func TestRandomBurstsWithNoCap(t *testing.T) {
	for seed := range uint64(60) {
		synctest.Test(t, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			opts := []scheduler.SchedulerOption{scheduler.Unlimited(), scheduler.WithLogger(quietLogger)}
			if seed%3 == 0 {
				opts = append(opts, scheduler.WithPprofLabels())
			}
			s, err := scheduler.New(opts...)
			require.NoError(t, err)
			var hooked atomic.Int32
			goexitHook, err := s.Root().NewScope(scheduler.WithHooks(scheduler.Hooks{
				OnStart: func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) context.Context {
					if hooked.Add(1)%3 == 0 {
						runtime.Goexit()
					}
					return ctx
				},
				OnDone: func(context.Context, *scheduler.Scope, lazytask.Handle) {
					if hooked.Add(1)%5 == 0 {
						runtime.Goexit()
					}
				},
			}))
			require.NoError(t, err)
			child, err := s.Root().NewScope()
			require.NoError(t, err)
			scopes := []*scheduler.Scope{s.Root(), goexitHook, child}
			release := make(chan struct{})
			var mu chan struct{} = make(chan struct{}, 1)
			var hs []*lazytask.Task[struct{}]
			add := func(h *lazytask.Task[struct{}]) {
				mu <- struct{}{}
				hs = append(hs, h)
				<-mu
			}
			var made atomic.Int64
			var body func(sp *scheduler.Scope, depth int) func(context.Context) error
			body = func(sp *scheduler.Scope, depth int) func(context.Context) error {
				r := rand.New(rand.NewPCG(seed, uint64(made.Add(1)))) // bodies are made inside tasks too
				k := r.IntN(7)
				n := 1 + r.IntN(20)
				return func(ctx context.Context) error {
					switch k {
					case 0:
						return nil
					case 1:
						select {
						case <-release:
						case <-ctx.Done():
							return context.Cause(ctx)
						}
						return nil
					case 2:
						if depth > 2 {
							return nil
						}
						var kids []*lazytask.Task[struct{}]
						for range n {
							h, err := scheduler.Go(sp, body(sp, depth+1))
							if err != nil {
								return nil // closed meanwhile
							}
							add(h)
							kids = append(kids, h)
						}
						for _, h := range kids {
							_ = h.Wait(ctx)
						}
						return nil
					case 3:
						runtime.Goexit()
					case 4:
						panic("boom")
					case 5:
						lazytask.HandleOf(ctx).Cancel(errors.New("self"))
						return ctx.Err()
					}
					return errors.New("failed")
				}
			}
			for range 1 + rng.IntN(4) {
				sp := scopes[rng.IntN(len(scopes))]
				for range 1 + rng.IntN(60) {
					h, err := scheduler.Go(sp, body(sp, 0))
					if sp == child && err != nil {
						require.ErrorIs(t, err, scheduler.ErrScopeCanceled)
						continue
					}
					require.NoError(t, err)
					add(h)
				}
				// Cancel a few of the burst at once: they may still
				// wait for a goroutine to begin.
				for range rng.IntN(5) {
					mu <- struct{}{}
					h := hs[rng.IntN(len(hs))]
					<-mu
					h.Cancel(errors.New("canceled at once"))
				}
				if rng.IntN(4) == 0 {
					child.Cancel(errors.New("scope canceled"))
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			if rng.IntN(2) == 0 {
				close(release) // Shutdown lets every task end
			} else {
				defer close(release)
				cancel() // Shutdown cancels what is left at once
			}
			_ = s.Shutdown(ctx)
			cancel()
			synctest.Wait()
			mu <- struct{}{}
			for i, h := range hs {
				assert.True(t, h.State().Terminal(), "seed %d: task %d is %v after Shutdown", seed, i, h.State())
			}
			<-mu
			st := s.Stats()
			assert.Equal(t, 0, st.Running, "seed %d", seed)
			assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected, "seed %d: %+v", seed, st)
		})
	}
}
