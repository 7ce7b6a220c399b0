package scheduler_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

type hnAged struct {
	name  string
	prio  int
	after time.Duration // mock time moved before it is submitted
	scope int           // 0 root, 1 and 2 two child scopes
	promo bool
}

// hnAgingOrder queues tasks behind a holder on a mock clock, in scopes as
// told, and returns the order they ran in and the order Snapshot showed
// them in just before the holder let go.
func hnAgingOrder(t *testing.T, step time.Duration, tasks []hnAged, caps ...int) (ran, shown []string) {
	t.Helper()
	for _, c := range hnClocks[:1] {
		m, clk := c.make()
		m.Set(hnT0)
		s := hsSched(t, scheduler.WithClock(clk), scheduler.WithLimit(1), scheduler.WithAging(step))
		scopes := []*scheduler.Scope{s.Root()}
		for i := range 2 {
			var opts []scheduler.Option
			if i < len(caps) && caps[i] > 0 {
				opts = append(opts, scheduler.WithLimit(caps[i]))
			}
			scopes = append(scopes, hsScope(t, s.Root(), append(opts, scheduler.WithName([]string{"a", "b"}[i]))...))
		}
		_, g := hold(t, s)
		var log runLog
		var hs []*lazytask.Task[string]
		for _, x := range tasks {
			m.Add(x.after)
			h, err := scheduler.Submit(scopes[x.scope], log.logged(x.name), lazytask.WithPriority(x.prio), lazytask.WithName(x.name))
			require.NoError(t, err)
			if x.promo {
				require.NoError(t, s.Promote(h))
			}
			hs = append(hs, h)
		}
		var walk func(sn scheduler.ScopeSnapshot)
		// Snapshot shows each scope's queue in its admission order; with
		// one task per scope (or all in one) that is enough to compare.
		walk = func(sn scheduler.ScopeSnapshot) {
			for _, ts := range sn.Tasks {
				if ts.State == lazytask.Queued {
					shown = append(shown, ts.Name)
				}
			}
			for _, ch := range sn.Children {
				walk(ch)
			}
		}
		walk(s.Snapshot())
		g.open()
		for _, h := range hs {
			_, err := hsAwait(t, h)
			require.NoError(t, err)
		}
		ran = log.get()
	}
	return ran, shown
}

// At aging step 1s, a priority-0 task queued 5s before a priority-5 one has
// caught up exactly: the tie goes FIFO (the older first). A nanosecond
// less and the high one goes first. The same across scopes.
func TestHNAgingBoundaryIsExactAndTiesGoFIFO(t *testing.T) {
	for _, tc := range []struct {
		name string
		gap  time.Duration
		want []string
	}{
		{"caught up exactly", 5 * time.Second, []string{"low", "high"}},
		{"1ns short", 5*time.Second - 1, []string{"high", "low"}},
		{"1ns past", 5*time.Second + 1, []string{"low", "high"}},
	} {
		for _, scopes := range [][2]int{{0, 0}, {1, 2}, {2, 0}} {
			t.Run(tc.name, func(t *testing.T) {
				ran, shown := hnAgingOrder(t, time.Second, []hnAged{
					{name: "low", prio: 0, scope: scopes[0]},
					{name: "high", prio: 5, after: tc.gap, scope: scopes[1]},
				}, 1, 1)
				assert.Equal(t, tc.want, ran, "run order, scopes %v", scopes)
				if scopes[0] == scopes[1] {
					assert.Equal(t, tc.want, shown, "Snapshot's queue order, scopes %v", scopes)
				}
			})
		}
	}
}

// A promoted task still comes first, however long the others aged.
func TestHNAgingPromotedStillFirst(t *testing.T) {
	ran, _ := hnAgingOrder(t, time.Millisecond, []hnAged{
		{name: "ancient", prio: 0},
		{name: "high", prio: 100, after: time.Hour},
		{name: "promoted", prio: -100, after: time.Second, promo: true},
	})
	assert.Equal(t, []string{"promoted", "ancient", "high"}, ran)
}

// The priority range's ends, and steps that overflow a product with it:
// MinInt32 waiting 2^32 steps catches MaxInt32 (one step per ns), and with
// a step of MaxInt64 no wait closes a gap of 2 levels.
func TestHNAgingAtTheEndsOfTheRanges(t *testing.T) {
	gap := time.Duration(int64(math.MaxInt32) - int64(math.MinInt32)) // 2^32-1 ns
	for _, tc := range []struct {
		name string
		step time.Duration
		wait time.Duration
		want []string
	}{
		{"MinInt32 aged past MaxInt32", 1, gap + 1, []string{"min", "max"}},
		{"MinInt32 one ns short", 1, gap - 1, []string{"max", "min"}},
		{"step MaxInt64", math.MaxInt64, 100 * 365 * 24 * time.Hour, []string{"max", "min"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran, shown := hnAgingOrder(t, tc.step, []hnAged{
				{name: "min", prio: math.MinInt32},
				{name: "max", prio: math.MaxInt32, after: tc.wait},
			})
			assert.Equal(t, tc.want, ran, "run order")
			assert.Equal(t, tc.want, shown, "Snapshot order")
		})
	}
}

// Aging with a scope's own cap: the aged task of a capped scope whose cap
// is full waits for its scope; the next in aged order of another scope
// takes the root's slot rather than the slot idling.
func TestHNAgingSkipsAScopeWhoseCapIsFull(t *testing.T) {
	m, clk := hnClocks[0].make()
	m.Set(hnT0)
	s := hsSched(t, scheduler.WithClock(clk), scheduler.WithLimit(2), scheduler.WithAging(time.Second))
	a := hsScope(t, s.Root(), scheduler.WithLimit(1))
	b := hsScope(t, s.Root())
	_, ga := hold(t, a) // a's cap is full; the root has one slot free
	_, gr := hold(t, s) // now the root is full too
	var log runLog
	old, err := scheduler.Submit(a, log.logged("a-old"))
	require.NoError(t, err)
	m.Add(time.Hour)
	young, err := scheduler.Submit(b, log.logged("b-young"), lazytask.WithPriority(3))
	require.NoError(t, err)
	gr.open() // frees a root slot: a is still full, so b's task must take it
	_, err = hsAwait(t, young)
	require.NoError(t, err)
	assert.Equal(t, lazytask.Queued, old.State())
	ga.open()
	_, err = hsAwait(t, old)
	require.NoError(t, err)
	assert.Equal(t, []string{"b-young", "a-old"}, log.get())
}
