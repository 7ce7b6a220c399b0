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

// A scope woken at its cap P takes P's room for the head it had then. If
// that head leaves the queue (canceled here; force-run or promoted past
// alike) while the root cap holds the scope up, its next head, lighter,
// is admitted with part of that room, and the rest of it was owed to no
// one: L, parked at P with P's room and the root's to spare, waited for
// the end of a task under P (H2 here, which may run for hours) while two
// of P's slots stayed free. The end of a task elsewhere (r) did not help:
// a put at the root wakes nothing parked below it.
func TestHostileParkedLeftoverRoomOfAWokenScopeIsPassedOn(t *testing.T) {
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
		g2, f2 := gate()
		h2, err := Go(p, f2) // behind heavy in P's own queue
		require.NoError(t, err)
		gl, fl := gate()
		l, err := Go(x, fl) // parks at P behind heavy
		require.NoError(t, err)
		synctest.Wait()
		close(gy) // P has room for heavy, which the root cap holds up
		require.NoError(t, y1.Wait(context.Background()))
		synctest.Wait()
		require.True(t, heavy.Cancel(errors.New("not needed")))
		synctest.Wait()
		require.Equal(t, lazytask.Running, h2.State())
		close(gr) // the root has room for L too, and so has P
		require.NoError(t, r.Wait(context.Background()))
		synctest.Wait()
		assert.Equal(t, lazytask.Running, l.State(), "L, first in line at P with 2 of P's 3 slots free and the root's: %+v", p.Stats())
		close(g2)
		close(gl)
		require.NoError(t, l.Wait(context.Background()))
		require.NoError(t, h2.Wait(context.Background()))
		require.NoError(t, s.Shutdown(context.Background()))
	})
}
