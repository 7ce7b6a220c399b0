package scheduler_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// hnStarted returns a task body that closes its own channel when it runs,
// then holds until release closes.
func hnStarted(release <-chan struct{}) (func(context.Context) (int, error), <-chan struct{}) {
	started := make(chan struct{})
	return func(context.Context) (int, error) {
		close(started)
		<-release
		return 0, nil
	}, started
}

// A heavy task at the head of the line holds the light ones behind it
// (the package's no-overtaking rule). A Resize below its weight fails it
// (ErrWeightTooLarge, as documented); the light ones behind it must then
// be admitted at once, into the room the new cap has, at whatever level
// the resize was made: the root's cap, the scope's own, or a cap above a
// child scope's task.
func TestHNResizeBelowAHeavyHeadAdmitsTheLightTasksBehindIt(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, s *scheduler.Scheduler) (submit, resize *scheduler.Scope)
	}{
		{"root", func(t *testing.T, s *scheduler.Scheduler) (*scheduler.Scope, *scheduler.Scope) {
			return s.Root(), s.Root()
		}},
		{"capped scope", func(t *testing.T, s *scheduler.Scheduler) (*scheduler.Scope, *scheduler.Scope) {
			sc := hsScope(t, s.Root(), scheduler.WithLimit(4))
			return sc, sc
		}},
		{"root above an uncapped child", func(t *testing.T, s *scheduler.Scheduler) (*scheduler.Scope, *scheduler.Scope) {
			return hsScope(t, s.Root()), s.Root()
		}},
		{"capped scope above a capped grandchild", func(t *testing.T, s *scheduler.Scheduler) (*scheduler.Scope, *scheduler.Scope) {
			mid := hsScope(t, s.Root(), scheduler.WithLimit(4))
			return hsScope(t, mid, scheduler.WithLimit(4)), mid
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limit := 4
			if tc.name != "root" && tc.name != "root above an uncapped child" {
				limit = 8
			}
			s := hsSched(t, scheduler.WithLimit(limit))
			sub, rs := tc.setup(t, s)
			release := make(chan struct{})
			defer close(release)
			holdFn, holding := hnStarted(release)
			_, err := scheduler.Submit(sub, holdFn)
			require.NoError(t, err)
			hsWithin(t, holding, "holder")
			var heavyRan atomic.Bool
			heavy, err := scheduler.Submit(sub, func(context.Context) (int, error) { heavyRan.Store(true); return 0, nil }, lazytask.WithWeight(4))
			require.NoError(t, err)
			fa, sa := hnStarted(release)
			fb, sb := hnStarted(release)
			la, err := scheduler.Submit(sub, fa)
			require.NoError(t, err)
			lb, err := scheduler.Submit(sub, fb)
			require.NoError(t, err)
			require.Equal(t, lazytask.Queued, la.State(), "a light task behind the heavy head waits")
			require.Equal(t, lazytask.Queued, lb.State(), "a light task behind the heavy head waits")

			require.NoError(t, rs.Resize(3))
			_, err = hsAwait(t, heavy)
			assert.ErrorIs(t, err, scheduler.ErrWeightTooLarge, "the heavy head after Resize(3)")
			assert.Equal(t, lazytask.Failed, heavy.State())
			assert.False(t, heavyRan.Load())
			hsWithin(t, sa, "first light task, admitted once the heavy head is gone")
			hsWithin(t, sb, "second light task, admitted once the heavy head is gone")
			st := rs.Stats()
			assert.Equal(t, 3, st.Limit, "Stats().Limit: %+v", st)
			assert.Equal(t, 3, st.InUse, "Stats().InUse: %+v", st)
			assert.Zero(t, st.Queued, "Stats().Queued: %+v", st)
		})
	}
}

// Trio's CapacityLimiter.total_tokens and pond's Resize: a grow must
// admit at once; a shrink below the running count holds admission until
// the slots in use are below the new cap, never sooner, and the weights of
// what then runs never pass it.
func TestHNResizeShrinkBelowRunningThenGrowWithWeights(t *testing.T) {
	s := hsSched(t, scheduler.WithLimit(6))
	release := make(chan struct{})
	var holders []*lazytask.Task[int]
	var gates []chan struct{}
	for range 3 {
		g := make(chan struct{})
		fn, started := hnStarted(g)
		h, err := scheduler.Submit(s, fn, lazytask.WithWeight(2))
		require.NoError(t, err)
		hsWithin(t, started, "holder")
		holders = append(holders, h)
		gates = append(gates, g)
	}
	var inUse, peak atomic.Int64
	var queued []*lazytask.Task[int]
	for i := range 6 {
		w := 1 + i%2
		h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			n := inUse.Add(int64(w))
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			<-release
			inUse.Add(-int64(w))
			return w, nil
		}, lazytask.WithWeight(w))
		require.NoError(t, err)
		queued = append(queued, h)
	}
	require.NoError(t, s.Resize(2))
	st := s.Stats()
	assert.Equal(t, 6, st.InUse, "holders keep their slots: %+v", st)
	assert.Equal(t, 6, st.Queued, "%+v", st)
	close(gates[0])
	close(gates[1])
	_, _ = hsAwait(t, holders[0])
	_, _ = hsAwait(t, holders[1])
	// 2 in use, cap 2: nothing may start.
	st = s.Stats()
	assert.Equal(t, 6, st.Queued, "2 slots in use at a cap of 2: nothing admitted: %+v", st)
	assert.Equal(t, 2, st.InUse, "%+v", st)
	require.NoError(t, s.Resize(5)) // room for 3 more: the first two queued (weights 1, 2)
	hnUntil(t, func() bool { return s.Stats().InUse == 5 }, "InUse 5 after Resize(5)")
	st = s.Stats()
	assert.Equal(t, 5, st.InUse, "after Resize(5) with 2 in use: %+v", st)
	assert.Equal(t, 4, st.Queued, "%+v", st)
	assert.LessOrEqual(t, st.InUse, st.Limit+st.OverCapSlots, "%+v", st)
	close(gates[2])
	close(release)
	require.NoError(t, hsWait(t, s.Root()))
	for _, h := range queued {
		_, err := hsAwait(t, h)
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, peak.Load(), int64(5), "peak of the queued tasks' weights")
	st = s.Stats()
	assert.Zero(t, st.InUse+st.Queued+st.Running+st.OverCap, "%+v", st)
}

// Resize's refusals: below 1 is ErrInvalidLimit, and leaves the cap as it
// was, at the root and in a scope; the largest int is a cap.
func TestHNResizeSentinelsAndExtremes(t *testing.T) {
	s := hsSched(t, scheduler.WithLimit(3))
	sc := hsScope(t, s.Root(), scheduler.WithLimit(2))
	for _, n := range []int{0, -1, math.MinInt} {
		assert.ErrorIs(t, s.Resize(n), scheduler.ErrInvalidLimit, "Scheduler.Resize(%d)", n)
		assert.ErrorIs(t, sc.Resize(n), scheduler.ErrInvalidLimit, "Scope.Resize(%d)", n)
		assert.ErrorIs(t, s.Root().Resize(n), scheduler.ErrInvalidLimit, "Root().Resize(%d)", n)
	}
	assert.Equal(t, 3, s.Stats().Limit)
	assert.Equal(t, 2, sc.Stats().Limit)
	require.NoError(t, s.Resize(math.MaxInt), "Resize(MaxInt)")
	require.NoError(t, sc.Resize(math.MaxInt), "Scope.Resize(MaxInt)")
	var hs []*lazytask.Task[int]
	release := make(chan struct{})
	var started []<-chan struct{}
	for range 20 {
		fn, st := hnStarted(release)
		h, err := scheduler.Submit(sc, fn)
		require.NoError(t, err)
		hs = append(hs, h)
		started = append(started, st)
	}
	for _, st := range started {
		hsWithin(t, st, "task under a cap of MaxInt")
	}
	h, err := scheduler.Submit(sc, func(context.Context) (int, error) { return 1, nil }, lazytask.WithWeight(math.MaxInt-20))
	require.NoError(t, err, "a weight that fits MaxInt - 20 slots")
	// MaxInt slots, with 20+ in use: queued (it fits the cap, not the
	// room) or refused, but never a wrapped count.
	huge, _ := scheduler.Submit(sc, func(context.Context) (int, error) { return 1, nil }, lazytask.WithWeight(math.MaxInt))
	close(release)
	for _, x := range hs {
		_, err := hsAwait(t, x)
		require.NoError(t, err)
	}
	_, err = hsAwait(t, h)
	require.NoError(t, err)
	_, err = hsAwait(t, huge)
	require.NoError(t, err, "weight MaxInt under a cap of MaxInt, once the rest ended")
	require.NoError(t, s.Resize(1))
	require.NoError(t, hsWait(t, s.Root()))
	st := s.Stats()
	assert.Zero(t, st.InUse+st.Queued+st.Running, "%+v", st)
	assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected, "%+v", st)
}

// Resize gives an Unlimited scheduler, and a scope without a cap of its
// own, a cap: it is enforced from then on, over the tasks already running.
func TestHNResizeGivesACapWhereThereWasNone(t *testing.T) {
	for _, which := range []string{"unlimited scheduler", "uncapped scope"} {
		t.Run(which, func(t *testing.T) {
			var s *scheduler.Scheduler
			var sc *scheduler.Scope
			if which == "unlimited scheduler" {
				s = hsSched(t, scheduler.Unlimited())
				sc = s.Root()
			} else {
				s = hsSched(t, scheduler.WithLimit(16))
				sc = hsScope(t, s.Root())
			}
			release := make(chan struct{})
			for range 3 {
				fn, started := hnStarted(release)
				_, err := scheduler.Submit(sc, fn)
				require.NoError(t, err)
				hsWithin(t, started, "running before the Resize")
			}
			require.NoError(t, sc.Resize(2))
			st := sc.Stats()
			assert.Equal(t, 2, st.Limit, "%+v", st)
			assert.False(t, st.Unlimited, "%+v", st)
			assert.Equal(t, 3, st.InUse, "the three running keep their slots: %+v", st)
			var cur, peak atomic.Int64
			var hs []*lazytask.Task[int]
			for range 8 {
				h, err := scheduler.Submit(sc, func(context.Context) (int, error) {
					n := cur.Add(1)
					for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
					}
					time.Sleep(100 * time.Microsecond) // work
					cur.Add(-1)
					return 0, nil
				})
				require.NoError(t, err)
				hs = append(hs, h)
			}
			assert.Equal(t, 8, sc.Stats().Queued, "new tasks queue behind 3 running over a cap of 2")
			close(release)
			for _, h := range hs {
				_, err := hsAwait(t, h)
				require.NoError(t, err)
			}
			assert.LessOrEqual(t, peak.Load(), int64(2), "peak after Resize(2)")
		})
	}
}

// Resize from everywhere user code runs: inside a task, in each hook, in a
// done callback and in the supervisor's handler. None may deadlock, and a
// raise made there admits at once.
func TestHNResizeFromInsideTasksHooksAndCallbacks(t *testing.T) {
	for _, where := range []string{"task", "OnCreate", "OnQueue", "OnStart", "OnDone", "callback", "handler"} {
		t.Run(where, func(t *testing.T) {
			var s *scheduler.Scheduler
			var once sync.Once
			raise := func() { once.Do(func() { _ = s.Resize(4) }) }
			hooks := scheduler.Hooks{}
			trigger := func(h lazytask.Handle) bool { return h.Name() == "trigger" }
			switch where {
			case "OnCreate":
				hooks.OnCreate = func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
					if trigger(h) {
						raise()
					}
				}
			case "OnQueue":
				hooks.OnQueue = func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
					if trigger(h) {
						raise()
					}
				}
			case "OnStart":
				hooks.OnStart = func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
					if trigger(h) {
						raise()
					}
					return ctx
				}
			case "OnDone":
				hooks.OnDone = func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
					if trigger(h) {
						raise()
					}
				}
			}
			opts := []scheduler.SchedulerOption{scheduler.WithLimit(1), scheduler.WithHooks(hooks)}
			if where == "handler" {
				opts = append(opts, scheduler.Supervise(func(info lazytask.Info, err error) {
					if info.Name == "trigger" {
						raise()
					}
				}))
			}
			s = hsSched(t, opts...)
			release := make(chan struct{})
			defer close(release)
			var trig *lazytask.Task[int]
			var err error
			body := func(ctx context.Context) (int, error) {
				if where == "task" {
					raise()
				}
				if where == "handler" {
					return 0, errBoom
				}
				return 0, nil
			}
			if where == "OnStart" || where == "task" || where == "OnCreate" || where == "OnQueue" {
				// The trigger runs first and holds its slot: the raise
				// must admit the queued ones beside it.
				trigBody := body
				body = func(ctx context.Context) (int, error) {
					_, _ = trigBody(ctx)
					<-release
					return 0, nil
				}
			}
			trig, err = scheduler.Submit(s, body, lazytask.WithName("trigger"))
			require.NoError(t, err)
			if where == "callback" {
				trig.OnDone(func(int, error) { raise() })
			}
			var started []<-chan struct{}
			for range 3 {
				fn, st := hnStarted(release)
				_, err := scheduler.Submit(s, fn)
				require.NoError(t, err)
				started = append(started, st)
			}
			for _, st := range started {
				hsWithin(t, st, "a queued task after a Resize(4) from "+where)
			}
			assert.Equal(t, 4, s.Stats().Limit)
		})
	}
}

// A task of weight 3 awaits a child while its slots are lent; meanwhile
// the cap drops to 2. When the child ends the parent can never take its 3
// slots back under a cap of 2: it must go on (over the cap, counted), not
// hang, and the counts must come back to zero.
func TestHNResizeBelowTheWeightOfATaskThatLendsItsSlots(t *testing.T) {
	s := hsSched(t, scheduler.WithLimit(4))
	childGo := make(chan struct{})
	childRunning := make(chan struct{})
	back := make(chan lazytask.Info, 1)
	finish := make(chan struct{})
	parent, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		child, err := scheduler.Submit(s, func(context.Context) (int, error) {
			close(childRunning)
			<-childGo
			return 2, nil
		}, lazytask.WithWeight(2))
		if err != nil {
			return 0, err
		}
		v, err := child.Await(ctx)
		back <- lazytask.HandleOf(ctx).Info()
		<-finish
		return v, err
	}, lazytask.WithWeight(3))
	require.NoError(t, err)
	hsWithin(t, childRunning, "the child in the lent slots")
	require.NoError(t, s.Resize(2))
	close(childGo)
	info := hnRecv(t, back, "the parent back from its wait")
	assert.True(t, info.OverCap, "a task back from a wait whose weight no longer fits runs over the cap")
	st := s.Stats()
	assert.Equal(t, 1, st.OverCap, "%+v", st)
	assert.Equal(t, 3, st.OverCapSlots, "%+v", st)
	// Lighter work still gets the cap's 2 slots meanwhile.
	var runs atomic.Int32
	light, err := scheduler.Submit(s, scCount(&runs), lazytask.WithWeight(2))
	require.NoError(t, err)
	_, err = hsAwait(t, light)
	require.NoError(t, err)
	close(finish)
	v, err := hsAwait(t, parent)
	require.NoError(t, err)
	assert.Equal(t, 2, v)
	require.NoError(t, hsWait(t, s.Root()))
	st = s.Stats()
	assert.Zero(t, st.OverCap+st.OverCapSlots+st.InUse+st.Running, "%+v", st)
}

// SubmitWait, waiting for room in a bounded queue for a task that a Resize
// then makes too heavy, returns ErrWeightTooLarge (documented), and a
// fail-fast scope whose queued task a Resize fails is canceled, its Wait
// returning that error once.
func TestHNResizeFailsHeavyWorkWhereverItWaits(t *testing.T) {
	t.Run("SubmitWait", func(t *testing.T) {
		s := hsSched(t, scheduler.WithLimit(4), scheduler.WithQueueLimit(1))
		release := make(chan struct{})
		defer close(release)
		fn, started := hnStarted(release)
		_, err := scheduler.Submit(s, fn, lazytask.WithWeight(4))
		require.NoError(t, err)
		hsWithin(t, started, "holder")
		_, err = scheduler.Submit(s, func(context.Context) (int, error) { return 0, nil }) // fills the queue
		require.NoError(t, err)
		res := make(chan error, 1)
		go func() {
			_, err := scheduler.SubmitWait(bg, s, func(context.Context) (int, error) { return 0, nil }, lazytask.WithWeight(3))
			res <- err
		}()
		time.Sleep(10 * time.Millisecond) // let it wait; the assertion holds either way
		require.NoError(t, s.Resize(2))
		err = hnRecv(t, res, "SubmitWait")
		assert.ErrorIs(t, err, scheduler.ErrWeightTooLarge, "SubmitWait of a weight above the new cap")
	})
	t.Run("fail-fast child", func(t *testing.T) {
		s := hsSched(t, scheduler.WithLimit(4))
		ff := hsScope(t, s.Root(), scheduler.FailFast(), scheduler.WithLimit(4))
		release := make(chan struct{})
		defer close(release)
		fn, started := hnStarted(release)
		_, err := scheduler.Submit(s, fn, lazytask.WithWeight(2))
		require.NoError(t, err)
		hsWithin(t, started, "holder")
		seen := make(chan hsSeen, 1)
		ffStarted := make(chan struct{})
		runningFF, err := scheduler.Submit(ff, hsUntilDone(ffStarted, seen, hsRetCause))
		require.NoError(t, err)
		hsWithin(t, ffStarted, "the fail-fast scope's running task")
		heavy, err := scheduler.Submit(ff, func(context.Context) (int, error) { return 0, nil }, lazytask.WithWeight(3))
		require.NoError(t, err)
		var runs atomic.Int32
		behind, err := scheduler.Submit(ff, scCount(&runs))
		require.NoError(t, err)
		require.NoError(t, s.Resize(2)) // the root: below the heavy task's weight
		_, err = hsAwait(t, heavy)
		require.ErrorIs(t, err, scheduler.ErrWeightTooLarge)
		_, err = hsAwait(t, behind)
		assert.Error(t, err, "a queued sibling of a fail-fast scope whose task failed")
		assert.Equal(t, lazytask.Canceled, behind.State())
		se := hnRecv(t, seen, "the running sibling")
		assert.ErrorIs(t, se.cause, scheduler.ErrWeightTooLarge, "the running sibling's cause")
		_, _ = hsAwait(t, runningFF)
		werr := hsWait(t, ff)
		assert.ErrorIs(t, werr, scheduler.ErrWeightTooLarge)
		assert.Len(t, hsJoined(werr), 1, "Wait's errors: %v", werr)
		assert.Zero(t, runs.Load())
	})
}

// Resize, Force, Promote, Cancel and Submit at once, with weights, in
// capped nested scopes, under a changing cap: the tasks admitted under the
// cap (not force-run) never take more than the largest cap set, the Stats
// identity holds at every read, InUse never passes Limit by more than what
// runs over it, and everything comes back to zero.
func TestHNConcurrentResizeForcePromoteCancel(t *testing.T) {
	for round := range 8 {
		hnResizeStorm(t, uint64(round))
	}
}

func hnResizeStorm(t *testing.T, seed uint64) {
	const maxCap = 4
	s := hsSched(t, scheduler.WithLimit(maxCap))
	a := hsScope(t, s.Root(), scheduler.WithLimit(3))
	b := hsScope(t, a, scheduler.WithLimit(2))
	c := hsScope(t, s.Root())
	scopes := []*scheduler.Scope{s.Root(), a, b, c}
	var under [4]atomic.Int64 // slots of tasks under the cap, per scope on their path
	var peak [4]atomic.Int64
	path := map[*scheduler.Scope][]int{s.Root(): {0}, a: {1, 0}, b: {2, 1, 0}, c: {3, 0}}
	var mu sync.Mutex
	var hs []*lazytask.Task[int]
	stop := make(chan struct{})
	var wg sync.WaitGroup
	bad := make(chan string, 16)
	// Stats watcher.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			st := s.Stats()
			if st.Created != st.Succeeded+st.Failed+st.Canceled+st.Rejected+uint64(st.Queued+st.Running+st.Lazy) {
				select {
				case bad <- "identity":
				default:
				}
			}
			if st.OverCap > st.Running || st.Queued < 0 || st.InUse < 0 {
				select {
				case bad <- "counts":
				default:
				}
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	// Resizers.
	for i, sc := range []*scheduler.Scope{s.Root(), a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			top := []int{maxCap, 3, 2}[i]
			for {
				select {
				case <-stop:
					_ = sc.Resize(top)
					return
				default:
				}
				_ = sc.Resize(1 + rng.IntN(top))
				time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
			}
		}()
	}
	rng := rand.New(rand.NewPCG(seed, 99))
	for i := range 400 {
		sc := scopes[rng.IntN(len(scopes))]
		w := 1 + rng.IntN(2)
		p := path[sc]
		work := time.Duration(rng.IntN(3)) * 50 * time.Microsecond
		h, _ := scheduler.Submit(sc, func(ctx context.Context) (int, error) {
			over := lazytask.HandleOf(ctx).Info().OverCap
			if !over {
				for _, k := range p {
					n := under[k].Add(int64(w))
					for q := peak[k].Load(); n > q && !peak[k].CompareAndSwap(q, n); q = peak[k].Load() {
					}
				}
			}
			time.Sleep(work) // work, not synchronisation
			if !over {
				for _, k := range p {
					under[k].Add(-int64(w))
				}
			}
			return i, nil
		}, lazytask.WithWeight(w), lazytask.WithPriority(rng.IntN(3)))
		mu.Lock()
		hs = append(hs, h)
		x := hs[rng.IntN(len(hs))]
		mu.Unlock()
		switch rng.IntN(10) {
		case 0:
			go func() { _ = s.Force(x) }()
		case 1:
			go func() { _ = s.Promote(x) }()
		case 2:
			go x.Cancel(nil)
		}
	}
	mu.Lock()
	all := append([]*lazytask.Task[int](nil), hs...)
	mu.Unlock()
	for i, h := range all {
		ctx, cancel := context.WithTimeout(bg, hsHang)
		_, err := h.Await(ctx)
		hung := ctx.Err() != nil
		cancel()
		if hung {
			t.Fatalf("seed %d: task %d hangs in %v; %+v", seed, i, h.State(), s.Stats())
		}
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, scheduler.ErrWeightTooLarge) {
			t.Errorf("seed %d: task %d: %v", seed, i, err)
		}
	}
	close(stop)
	wg.Wait()
	require.NoError(t, hsWait(t, s.Root()))
	close(bad)
	for b := range bad {
		t.Errorf("seed %d: Stats inconsistent (%s)", seed, b)
	}
	for k, cap := range []int64{maxCap, 3, 2} {
		assert.LessOrEqual(t, peak[k].Load(), cap, "seed %d: peak under the cap at level %d", seed, k)
	}
	st := s.Stats()
	assert.Zero(t, st.InUse+st.Queued+st.Running+st.OverCap+st.OverCapSlots, "seed %d: %+v", seed, st)
	assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected, "seed %d: %+v", seed, st)
	for _, sc := range []*scheduler.Scope{a, b, c} {
		ss := sc.Stats()
		assert.Zero(t, ss.InUse+ss.Queued+ss.Running, "seed %d: scope %s %+v", seed, sc.Name(), ss)
	}
}

// A Resize that makes a queued task too heavy, racing a Force, a Cancel or
// a Promote of that task: exactly one of them decides, and what each call
// returned agrees with the outcome.
func TestHNResizeRacingForceCancelPromoteOfTheHeavyTask(t *testing.T) {
	for _, op := range []string{"Force", "Cancel", "Promote"} {
		t.Run(op, func(t *testing.T) {
			var outcomes = map[string]int{}
			for round := range 200 {
				var reports atomic.Int32
				s := hsSched(t, scheduler.WithLimit(4), scheduler.Supervise(func(lazytask.Info, error) { reports.Add(1) }))
				release := make(chan struct{})
				fn, started := hnStarted(release)
				_, err := scheduler.Submit(s, fn)
				require.NoError(t, err)
				hsWithin(t, started, "holder")
				var ran atomic.Bool
				heavy, err := scheduler.Submit(s, func(context.Context) (int, error) { ran.Store(true); return 4, nil }, lazytask.WithWeight(4))
				require.NoError(t, err)
				var opErr error
				var canceled bool
				doOp := func() {
					switch op {
					case "Force":
						opErr = s.Force(heavy)
					case "Cancel":
						canceled = heavy.Cancel(errBoom)
					case "Promote":
						opErr = s.Promote(heavy)
					}
				}
				doResize := func() { _ = s.Resize(2) }
				first, second := doOp, doResize
				if round%2 == 1 {
					first, second = doResize, doOp
				}
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					second()
				}()
				if round%4 < 2 {
					runtime.Gosched()
				}
				first()
				wg.Wait()
				_, err = hsAwait(t, heavy)
				close(release)
				require.NoError(t, s.Shutdown(bg))
				st := s.Stats()
				switch {
				case ran.Load():
					outcomes["ran"]++
					assert.Equal(t, "Force", op, "round %d: only a Force runs a task of weight 4 under a cap of 2", round)
					assert.NoError(t, opErr, "round %d: Force of a task that ran", round)
					assert.Equal(t, lazytask.Succeeded, heavy.State())
					assert.Equal(t, uint64(1), st.ForceRuns)
				case heavy.State() == lazytask.Canceled:
					outcomes["canceled"]++
					assert.Equal(t, "Cancel", op, "round %d", round)
					assert.True(t, canceled, "round %d: Cancel of the task it canceled returned false", round)
					assert.ErrorIs(t, err, errBoom)
					assert.Zero(t, reports.Load(), "round %d: a canceled task is no failure to report", round)
				default:
					outcomes["too heavy"]++
					assert.ErrorIs(t, err, scheduler.ErrWeightTooLarge, "round %d", round)
					assert.Equal(t, lazytask.Failed, heavy.State())
					assert.False(t, canceled, "round %d: Cancel returned true, but the Resize failed the task", round)
					if op == "Force" {
						assert.ErrorIs(t, opErr, scheduler.ErrNotQueued, "round %d: Force of a task the Resize failed", round)
					}
					assert.Equal(t, int32(1), reports.Load(), "round %d: supervisor reports", round)
				}
				assert.Zero(t, st.InUse+st.Queued+st.Running+st.OverCap, "round %d: %+v", round, st)
				assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected, "round %d: %+v", round, st)
			}
			t.Logf("%s: %v", op, outcomes)
		})
	}
}

// A Lazy task bound to a scope (NewTask) that a Resize made too heavy: it
// is not failed (it is not queued), its Enqueue is refused and leaves it
// Lazy, its Start runs it over the cap, and the scope's close cancels one
// never started.
func TestHNResizeBelowALazyTasksWeight(t *testing.T) {
	s := hsSched(t, scheduler.WithLimit(4))
	sc := hsScope(t, s.Root(), scheduler.WithLimit(4))
	var runs atomic.Int32
	started := scheduler.NewTask(sc, scCount(&runs), lazytask.WithWeight(3))
	left := scheduler.NewTask(sc, scCount(&runs), lazytask.WithWeight(3))
	require.NoError(t, sc.Resize(2))
	assert.Equal(t, lazytask.Lazy, started.State(), "a Lazy task is not failed by a Resize")
	err := sc.Enqueue(started)
	assert.ErrorIs(t, err, scheduler.ErrWeightTooLarge, "Enqueue after the Resize")
	assert.Equal(t, lazytask.Lazy, started.State(), "a refused Enqueue leaves the task Lazy")
	require.NoError(t, started.Start(), "Start: a force-run, over every cap")
	_, err = hsAwait(t, started)
	require.NoError(t, err)
	require.NoError(t, sc.Shutdown(bg))
	_, err = hsAwait(t, left)
	assert.ErrorIs(t, err, lazytask.ErrScopeClosed)
	assert.Equal(t, int32(1), runs.Load())
	st := s.Stats()
	assert.Zero(t, st.InUse+st.OverCap+st.Lazy, "%+v", st)
}

// A queued task that a Resize fails is an ordinary failure to every
// observer: one OnDone, no OnStart, one callback, counted Failed (not
// Rejected: it was queued), Info().Rejected false, and its queue time on
// the clock.
func TestHNResizeFailedTaskIsSeenOnceByEveryObserver(t *testing.T) {
	var starts, dones atomic.Int32
	s := hsSched(t, scheduler.WithLimit(4), scheduler.WithTimings(), scheduler.WithHooks(scheduler.Hooks{
		OnStart: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
			if h.Name() == "heavy" {
				starts.Add(1)
			}
			return ctx
		},
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			if h.Name() == "heavy" {
				dones.Add(1)
			}
		},
	}))
	release := make(chan struct{})
	fn, started := hnStarted(release)
	_, err := scheduler.Submit(s, fn)
	require.NoError(t, err)
	hsWithin(t, started, "holder")
	heavy, err := scheduler.Submit(s, func(context.Context) (int, error) { return 0, nil }, lazytask.WithWeight(4), lazytask.WithName("heavy"))
	require.NoError(t, err)
	var cbs atomic.Int32
	heavy.OnDone(func(int, error) { cbs.Add(1) })
	before := s.Stats()
	require.NoError(t, s.Resize(3))
	_, err = hsAwait(t, heavy)
	require.ErrorIs(t, err, scheduler.ErrWeightTooLarge)
	close(release)
	require.NoError(t, s.Shutdown(bg))
	assert.Zero(t, starts.Load(), "OnStart of a task the Resize failed")
	assert.Equal(t, int32(1), dones.Load(), "OnDone")
	assert.Equal(t, int32(1), cbs.Load(), "callbacks")
	info := heavy.Info()
	assert.False(t, info.Rejected, "a queued task failed later is not Rejected")
	st := s.Stats()
	assert.Equal(t, before.Failed+1, st.Failed, "Stats().Failed")
	assert.Equal(t, before.Rejected, st.Rejected, "Stats().Rejected")
	assert.False(t, info.Timings.Queued.IsZero(), "queued time")
	assert.True(t, info.Timings.Started.IsZero(), "no start")
	assert.False(t, info.Timings.Finished.IsZero(), "finished time of a task the Resize failed in the queue")
}
