package scheduler_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A task of a scope lends its slot while it awaits a child (I9); the scope
// is resized meanwhile (given a cap it had not, lowered, raised). When the
// wait ends the task takes its slot back, and once idle every level's
// InUse is back to 0 and the caps held for running code.
func TestPeersResizeWhileATaskLendsItsSlot(t *testing.T) {
	cases := []struct {
		name          string
		opts          []scheduler.Option
		resizeTo      int
		rootCap       int
		resizeRootToo bool
	}{
		{"uncapped scope gets a cap of 1", nil, 1, 2, false},
		{"cap 2 lowered to 1", []scheduler.Option{scheduler.WithLimit(2)}, 1, 2, false},
		{"cap 1 raised to 3", []scheduler.Option{scheduler.WithLimit(1)}, 3, 3, false},
		{"root lowered to 1 too", []scheduler.Option{scheduler.WithLimit(2)}, 1, 2, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startScheduler(t, scheduler.WithLimit(c.rootCap))
			sc, err := s.Root().NewScope(c.opts...)
			require.NoError(t, err)
			gate := make(chan struct{})
			childStarted := make(chan struct{})
			var cur, peak atomic.Int32
			enter := func() {
				n := cur.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
			}
			outer, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) {
				enter()
				child, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) {
					enter()
					defer cur.Add(-1)
					close(childStarted)
					<-gate
					return 1, nil
				})
				if err != nil {
					cur.Add(-1)
					return 0, err
				}
				cur.Add(-1)
				v, err := child.Await(ctx)
				enter()
				defer cur.Add(-1)
				return v + 1, err
			})
			require.NoError(t, err)
			<-childStarted
			require.NoError(t, sc.Resize(c.resizeTo))
			if c.resizeRootToo {
				require.NoError(t, s.Resize(1))
			}
			// More work queued behind the lent slot.
			var more []*lazytask.Task[int]
			for range 4 {
				h, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) {
					enter()
					defer cur.Add(-1)
					return 0, nil
				})
				require.NoError(t, err)
				more = append(more, h)
			}
			close(gate)
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, _ = outer.Await(bg)
				for _, h := range more {
					_, _ = h.Await(bg)
				}
				_ = s.Wait(bg)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("hang: outer %v, Stats %+v", outer.State(), s.Stats())
			}
			v, err := outer.Result()
			require.NoError(t, err)
			assert.Equal(t, 2, v)
			st := s.Stats()
			assert.Equal(t, 0, st.InUse, "root InUse once idle: %+v", st)
			assert.Equal(t, 0, st.OverCap, "OverCap once idle")
			snap := s.Snapshot()
			for _, ch := range snap.Children {
				assert.Equal(t, 0, ch.InUse, "scope InUse once idle: %+v", ch)
			}
			statsAddUp(t, st, c.name)
			// And the cap still means what it says afterwards.
			peak.Store(0)
			var burst []*lazytask.Task[int]
			rel := make(chan struct{})
			for range 6 {
				h, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) {
					enter()
					defer cur.Add(-1)
					<-rel
					return 0, nil
				})
				require.NoError(t, err)
				burst = append(burst, h)
			}
			close(rel)
			for _, h := range burst {
				_, _ = h.Await(bg)
			}
			want := int32(min(c.resizeTo, c.rootCap))
			if c.resizeRootToo {
				want = 1
			}
			assert.LessOrEqual(t, peak.Load(), want, "tasks at once after the resizes")
		})
	}
}
