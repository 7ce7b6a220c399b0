package scheduler_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// pond Resize: raising a nested scope's cap admits its waiting tasks at
// once, for the middle scope of three, and with weights.
func TestResizeNestedScopesAdmitsAtOnce(t *testing.T) {
	for _, which := range []string{"leaf", "middle", "root"} {
		t.Run(which, func(t *testing.T) {
			s := startScheduler(t, scheduler.WithLimit(1))
			mid, err := s.Root().NewScope(scheduler.WithLimit(1))
			require.NoError(t, err)
			leaf, err := mid.NewScope(scheduler.WithLimit(1))
			require.NoError(t, err)
			_, g := hold(t, leaf)
			var started atomic.Int32
			all := make(chan struct{})
			rel := make(chan struct{})
			var hs []*lazytask.Task[int]
			for i := range 3 {
				w := 1
				if i == 1 {
					w = 2
				}
				h, err := scheduler.Submit(leaf, func(ctx context.Context) (int, error) {
					if started.Add(1) == 3 {
						close(all)
					}
					<-rel
					return 0, nil
				}, lazytask.WithWeight(w))
				if which != "root" || w == 1 {
					// weight 2 > caps of 1
				}
				if err != nil {
					require.ErrorIs(t, err, scheduler.ErrWeightTooLarge)
					h, err = scheduler.Submit(leaf, func(ctx context.Context) (int, error) {
						if started.Add(1) == 3 {
							close(all)
						}
						<-rel
						return 0, nil
					})
					require.NoError(t, err)
				}
				hs = append(hs, h)
			}
			// raise all three caps except the one under test, then that one
			order := map[string][]func() error{
				"leaf":   {func() error { return s.Resize(8) }, func() error { return mid.Resize(8) }, func() error { return leaf.Resize(8) }},
				"middle": {func() error { return s.Resize(8) }, func() error { return leaf.Resize(8) }, func() error { return mid.Resize(8) }},
				"root":   {func() error { return leaf.Resize(8) }, func() error { return mid.Resize(8) }, func() error { return s.Resize(8) }},
			}[which]
			for _, f := range order {
				require.NoError(t, f())
			}
			select {
			case <-all:
			case <-time.After(5 * time.Second):
				t.Fatalf("not admitted at once: %+v", s.Stats())
			}
			close(rel)
			g.open()
			for _, h := range hs {
				require.NoError(t, h.Wait(bg))
			}
		})
	}
}
