package scheduler

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

// A scope woken at its cap P for a heavy head (P's whole room) that the
// root cap then holds up sits in s.ready as P's wake-up. When that head is
// canceled, the scope's next head, light, parks back at P behind a lighter
// head parked there earlier (the order rule of blockedBelowRoot): woken by
// P and parked at P, it passed the wake-up on to no one, so the head
// parked before it waited for a wake that never came. With P's three slots
// free and nothing running, L and H2 stayed queued for ever.
func TestHostileParkedRewakeAtTheSameCapPassesItOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(WithLimit(4))
		require.NoError(t, err)
		p, err := s.Root().NewScope(WithLimit(3))
		require.NoError(t, err)
		x, err := p.NewScope()
		require.NoError(t, err)
		gate := func() (chan struct{}, func(context.Context) error) {
			g := make(chan struct{})
			return g, func(context.Context) error { <-g; return nil }
		}
		gy, fy := gate()
		y1, err := Go(p, fy) // P 1/3, root 1/4
		require.NoError(t, err)
		gr, fr := gate()
		r, err := Go(s, fr, lazytask.WithWeight(2)) // root 3/4
		require.NoError(t, err)
		synctest.Wait()
		heavy, err := Go(p, func(context.Context) error { return nil }, lazytask.WithWeight(3)) // parks at P
		require.NoError(t, err)
		l, err := Go(x, func(context.Context) error { return nil }) // parks at P behind heavy
		require.NoError(t, err)
		h2, err := Go(p, func(context.Context) error { return nil }) // behind heavy in P's own queue
		require.NoError(t, err)
		synctest.Wait()
		close(gy) // P has room for heavy, which the root cap holds up
		require.NoError(t, y1.Wait(context.Background()))
		synctest.Wait()
		require.True(t, heavy.Cancel(errors.New("not needed")))
		synctest.Wait()
		close(gr) // the root has room for everything left
		require.NoError(t, r.Wait(context.Background()))
		synctest.Wait()
		if st := s.Stats(); st.Queued != 0 {
			t.Errorf("idle but queued: %+v", st)
			s.Root().Cancel(errors.New("hung")) // let the test end
		}
		assert.NoError(t, l.Wait(context.Background()))
		assert.NoError(t, h2.Wait(context.Background()))
		require.NoError(t, s.Shutdown(context.Background()))
	})
}
