package scheduler_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Hooks that act on the handle they see (force-run, cancel, hand
// it to a goroutine that acts), on Submit, SubmitWait, NewTask and Enqueue,
// into child scopes, some capped, of a scheduler with a bounded queue or
// not; every task ends once, Stats add up, Shutdown ends.
func TestHookActsOnEveryHandoff(t *testing.T) { hookActsOnEveryHandoff(t, false) }

// The same with a deadline of its own on half the tasks, some passing while
// they are queued.
func TestHookActsOnEveryHandoffWithDeadlines(t *testing.T) { hookActsOnEveryHandoff(t, true) }

func hookActsOnEveryHandoff(t *testing.T, deadlines bool) {
	for _, bounded := range []bool{false, true} {
		t.Run(map[bool]string{false: "unbounded", true: "bounded"}[bounded], func(t *testing.T) {
			var n atomic.Int64
			acts := make(chan lazytask.Handle, 1024)
			act := func(sc *scheduler.Scope, h lazytask.Handle) {
				switch n.Add(1) % 7 {
				case 0:
					_ = sc.Force(h)
				case 1:
					h.Cancel(errBoom)
				case 2, 3:
					select {
					case acts <- h:
					default:
					}
				}
			}
			hooks := scheduler.Hooks{
				OnCreate: func(_ context.Context, sc *scheduler.Scope, h lazytask.Handle) { act(sc, h) },
				OnQueue:  func(_ context.Context, sc *scheduler.Scope, h lazytask.Handle) { act(sc, h) },
				OnStart:  func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) context.Context { return ctx },
			}
			opts := []scheduler.SchedulerOption{scheduler.WithLogger(quietLogger), scheduler.WithLimit(2), scheduler.WithHooks(hooks)}
			if bounded {
				opts = append(opts, scheduler.WithQueueLimit(8))
			}
			s, err := scheduler.New(opts...)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(bg, 20*time.Second) // bounds a hang
			defer cancel()
			var scopes []*scheduler.Scope
			for i := range 4 {
				var o []scheduler.Option
				if i%2 == 0 {
					o = append(o, scheduler.WithLimit(1))
				}
				sc, err := s.Root().NewScope(o...)
				require.NoError(t, err)
				scopes = append(scopes, sc)
			}
			var actors sync.WaitGroup
			stop := make(chan struct{})
			for range 2 {
				actors.Go(func() {
					for {
						select {
						case <-stop:
							return
						case h := <-acts:
							switch n.Add(1) % 4 {
							case 0:
								_ = s.Force(h)
							case 1:
								h.Cancel(errBoom)
							case 2:
								_ = s.Promote(h)
							default:
								_ = h.Start()
							}
						}
					}
				})
			}
			var mu sync.Mutex
			var hs []*lazytask.Task[int]
			var kinds []int
			var subs sync.WaitGroup
			for g := range 4 {
				subs.Go(func() {
					for i := range 600 {
						mu.Lock()
						sc := scopes[(g+i)%len(scopes)]
						mu.Unlock()
						if i%61 == 0 {
							// replace a scope: cancel it, shut it down (a
							// short grace), or nest a capped child in it
							switch (g + i) % 3 {
							case 0:
								sc.Cancel(errBoom)
							case 1:
								gctx, gcancel := context.WithTimeout(ctx, time.Millisecond)
								go func() { defer gcancel(); _ = sc.Shutdown(gctx) }()
							}
							parent := sc
							if (g+i)%3 != 2 {
								parent = s.Root()
							}
							if ns, err := parent.NewScope(scheduler.WithLimit(1 + i%2)); err == nil {
								mu.Lock()
								scopes[(g+i)%len(scopes)] = ns
								mu.Unlock()
							}
						}
						fn := func(context.Context) (int, error) { return i, nil }
						prio := lazytask.WithPriority(i % 3)
						carried, cancelCarried := context.WithCancel(bg)
						if i%5 == 0 {
							go cancelCarried()
						}
						defer cancelCarried()
						copts := []lazytask.Option{prio}
						if i%3 == 0 {
							copts = append(copts, lazytask.WithContext(carried))
						}
						if deadlines && i%2 == 0 {
							copts = append(copts, lazytask.WithDeadline(time.Now().Add(time.Duration(i%7)*100*time.Microsecond)))
						}
						if i%37 == 0 {
							_ = sc.Resize(1 + i%3)
						}
						if i%97 == 0 && g == 0 {
							_ = s.Resize(1 + i%4)
						}
						var h *lazytask.Task[int]
						switch i % 4 {
						case 0:
							h, _ = scheduler.Submit(sc, fn, copts...)
						case 1:
							wctx, wcancel := context.WithTimeout(ctx, 50*time.Millisecond)
							h, _ = scheduler.SubmitWait(wctx, sc, fn, copts...)
							wcancel()
						case 2:
							h = scheduler.NewTask(sc, fn, copts...)
							_ = sc.Enqueue(h)
						default:
							h = lazytask.New(fn, copts...)
							_ = sc.Enqueue(h)
						}
						mu.Lock()
						hs = append(hs, h)
						kinds = append(kinds, i%4)
						mu.Unlock()
						if i%10 == 0 {
							st := s.Stats()
							assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected+uint64(st.Queued+st.Running+st.Lazy), "identity: %+v", st)
							ss := sc.Stats()
							assert.Equal(t, ss.Created, ss.Succeeded+ss.Failed+ss.Canceled+ss.Rejected+uint64(ss.Queued+ss.Running+ss.Lazy), "scope identity: %+v", ss)
						}
					}
				})
			}
			subs.Wait()
			close(stop)
			actors.Wait()
			// Tasks made elsewhere and refused are still Lazy: cancel them.
			for _, h := range hs {
				if h.State() == lazytask.Lazy {
					h.Cancel(nil)
				}
			}
			require.NoError(t, s.Wait(ctx), "Wait; Stats %+v", s.Stats())
			require.NoError(t, s.Shutdown(ctx))
			for k, h := range hs {
				if kinds[k] == 3 && h.Info().Scope == "" {
					// made by lazytask.New, refused, and started on its own by
					// an actor's Start: no task of the scheduler's
					_ = h.Wait(ctx)
				}
				require.True(t, h.State() >= lazytask.Succeeded, "task %v after Shutdown (kind %d, %+v)", h.State(), kinds[k], h.Info())
			}
			st := s.Stats()
			assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected, "identity after Shutdown: %+v", st)
			assert.Zero(t, st.Running+st.Queued+st.Lazy+st.OverCap, "%+v", st)
		})
	}
}
