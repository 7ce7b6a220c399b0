package bench

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// counter is a task that counts its calls and the most calls running at
// once.
type counter struct {
	calls, running, peak atomic.Int64
}

func (c *counter) task() {
	r := c.running.Add(1)
	for {
		p := c.peak.Load()
		if r <= p || c.peak.CompareAndSwap(p, r) {
			break
		}
	}
	runtime.Gosched() // let others overlap, so that a broken cap shows
	c.calls.Add(1)
	c.running.Add(-1)
}

// TestRunnersRunEachTaskOnce runs every runner with a few hundred tasks,
// from one submitter and from several, and checks that all n calls ran
// before run returned, none twice (the count is exact then and stays so),
// and never more than the cap at once (raw has no cap).
func TestRunnersRunEachTaskOnce(t *testing.T) {
	const n, limit = 300, 4
	for _, r := range runners() {
		for _, subs := range []int{1, 3} {
			t.Run(r.name(), func(t *testing.T) {
				var c counter
				r.run(n, limit, subs, c.task)
				if got := c.calls.Load(); got != n {
					t.Fatalf("%s.run(%d, %d, %d) made %d calls; want %d", r.name(), n, limit, subs, got, n)
				}
				if _, uncapped := r.(rawRunner); !uncapped && c.peak.Load() > limit {
					t.Errorf("%s.run(%d, %d, %d) ran %d calls at once; want at most %d", r.name(), n, limit, subs, c.peak.Load(), limit)
				}
				t.Cleanup(func() {
					if got := c.calls.Load(); got != n {
						t.Errorf("%s.run(%d, %d, %d): %d calls after the test; want %d", r.name(), n, limit, subs, got, n)
					}
				})
			})
		}
	}
}

// TestBacklogsHoldTasksUntilTheSlotIsFree fills every runner's W6 backlog
// and checks that no pending task runs while the cap is held, and that each
// runs once after.
func TestBacklogsHoldTasksUntilTheSlotIsFree(t *testing.T) {
	const n = 300
	for _, r := range runners() {
		t.Run(r.name(), func(t *testing.T) {
			var c counter
			gate := make(chan struct{})
			bl := r.backlog(n, gate, c.task)
			if bl == nil {
				if _, uncapped := r.(rawRunner); !uncapped {
					t.Fatalf("%s.backlog = nil; want a backlog", r.name())
				}
				return
			}
			for range n {
				bl.add()
			}
			if s, ok := bl.(*spawned); ok {
				s.settle()
			}
			if got := c.calls.Load(); got != 0 {
				t.Fatalf("%s: %d pending calls ran while the cap was held; want 0", r.name(), got)
			}
			close(gate)
			bl.drain()
			if got := c.calls.Load(); got != n {
				t.Fatalf("%s: %d calls after drain; want %d", r.name(), got, n)
			}
			if p := c.peak.Load(); p > 1 {
				t.Errorf("%s: %d calls at once under cap 1", r.name(), p)
			}
		})
	}
}

func TestSplitSharesAllTasks(t *testing.T) {
	for _, tc := range []struct{ n, subs int }{{0, 1}, {10, 1}, {10, 3}, {2, 5}, {1000, 7}} {
		var sum, calls atomic.Int64
		split(tc.n, tc.subs, func(k int) {
			sum.Add(int64(k))
			calls.Add(1)
		})
		want := int64(max(tc.subs, 1))
		if sum.Load() != int64(tc.n) || calls.Load() != want {
			t.Errorf("split(%d, %d) gave %d tasks to %d submitters; want %d to %d", tc.n, tc.subs, sum.Load(), calls.Load(), tc.n, want)
		}
	}
}

func TestShort(t *testing.T) {
	for n, want := range map[int]string{10_000: "10k", 1_000_000: "1M", 1234: "1234", 50_000: "50k"} {
		if got := short(n); got != want {
			t.Errorf("short(%d) = %q; want %q", n, got, want)
		}
	}
}

// TestHookedRunnerFiresHooks checks the runner of BenchmarkHooks: its hooks
// are registered and fire once per step of each task.
func TestHookedRunnerFiresHooks(t *testing.T) {
	const n = 300
	var created, queued, started, done atomic.Int64
	count := func(c *atomic.Int64) func(context.Context, *scheduler.Scope, lazytask.Handle) {
		return func(context.Context, *scheduler.Scope, lazytask.Handle) { c.Add(1) }
	}
	r := lazyRunner{label: "empty", opts: []scheduler.SchedulerOption{scheduler.WithHooks(scheduler.Hooks{
		OnCreate: count(&created), OnQueue: count(&queued), OnDone: count(&done),
		OnStart: func(ctx context.Context, sc *scheduler.Scope, h lazytask.Handle) context.Context {
			started.Add(1)
			return nil
		},
	})}}
	var c counter
	r.run(n, 4, 1, c.task)
	if got := c.calls.Load(); got != n {
		t.Fatalf("hooked run made %d calls; want %d", got, n)
	}
	for name, h := range map[string]*atomic.Int64{"OnCreate": &created, "OnStart": &started, "OnDone": &done} {
		if got := h.Load(); got != n {
			t.Errorf("%s fired %d times for %d tasks; want %d", name, got, n, n)
		}
	}
	if got := queued.Load(); got > n {
		t.Errorf("OnQueue fired %d times for %d tasks; want at most %d", got, n, n)
	}
}

func TestRotate(t *testing.T) {
	rs := runners()
	for k := range 2 * len(rs) {
		got := rotate(rs, k)
		if len(got) != len(rs) || got[0].name() != rs[k%len(rs)].name() {
			t.Fatalf("rotate(runners, %d)[0] = %s; want %s", k, got[0].name(), rs[k%len(rs)].name())
		}
	}
	if r := rotate(rs, 1); rs[0].name() != "raw" || r[len(r)-1].name() != "raw" {
		t.Errorf("rotate(runners, 1) changed its input or lost raw")
	}
}

// The floor is one: a task of the floor runner costs exactly one
// allocation, its handle (the pool's workers and channel are made once).
func TestFloorAllocatesOnce(t *testing.T) {
	const n = 10_000
	noop := func() {}
	allocs := testing.AllocsPerRun(5, func() { floorRunner{}.run(n, 8, 1, noop) })
	perTask := allocs / n
	if perTask < 1 || perTask > 1.01 {
		t.Fatalf("floor64 allocations per task = %.4f; want 1", perTask)
	}
}

// The floor's handle is the size of lazysched's, so that the floor is the
// least a kept handle of that size can cost.
func TestFloorHandleIsAHandle(t *testing.T) {
	if got, want := unsafe.Sizeof(floorHandle{}), unsafe.Sizeof(lazytask.Task[struct{}]{}); got != want {
		t.Fatalf("unsafe.Sizeof(floorHandle{}) = %d; want %d, the size of lazytask.Task[struct{}]", got, want)
	}
}
