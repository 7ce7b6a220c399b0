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

// heavyAtP is the setup of the tests below: under the root (cap 4), a
// scope P (cap 3) with a child X. y1 holds one of P's slots, r two of the
// root's; heavy, of weight 3 (P's whole cap), parks at P.
type heavyAtP struct {
	s      *Scheduler
	p, x   *Scope
	gy, gr chan struct{}
	y1, r  *lazytask.Task[struct{}]
	heavy  *lazytask.Task[struct{}]
}

func gateFn() (chan struct{}, func(context.Context) error) {
	g := make(chan struct{})
	return g, func(context.Context) error { <-g; return nil }
}

func newHeavyAtP(t *testing.T) *heavyAtP {
	h := &heavyAtP{}
	var err error
	h.s, err = New(WithLimit(4))
	require.NoError(t, err)
	h.p, err = h.s.Root().NewScope(WithLimit(3))
	require.NoError(t, err)
	h.x, err = h.p.NewScope()
	require.NoError(t, err)
	var fy, fr func(context.Context) error
	h.gy, fy = gateFn()
	h.y1, err = Go(h.p, fy) // P 1/3, root 1/4
	require.NoError(t, err)
	h.gr, fr = gateFn()
	h.r, err = Go(h.s, fr, lazytask.WithWeight(2)) // root 3/4
	require.NoError(t, err)
	synctest.Wait()
	h.heavy, err = Go(h.p, func(context.Context) error { return nil }, lazytask.WithWeight(3)) // parks at P
	require.NoError(t, err)
	return h
}

// cancelHeavy ends y1, so that P has room for heavy, which the root cap
// holds up, then cancels heavy.
func (h *heavyAtP) cancelHeavy(t *testing.T) {
	synctest.Wait()
	close(h.gy)
	require.NoError(t, h.y1.Wait(context.Background()))
	synctest.Wait()
	require.True(t, h.heavy.Cancel(errors.New("not needed")))
	synctest.Wait()
}

// freeRoot ends r: the root has room for everything left.
func (h *heavyAtP) freeRoot(t *testing.T) {
	close(h.gr)
	require.NoError(t, h.r.Wait(context.Background()))
	synctest.Wait()
}

// A scope woken at its cap P for a heavy head (P's whole room) that the
// root cap then holds up sits in s.ready as P's wake-up. When that head is
// canceled, the scope's next head, light, parks back at P behind a lighter
// head parked there earlier (the order rule of blockedBelowRoot): woken by
// P and parked at P, it passed the wake-up on to no one, so the head
// parked before it waited for a wake that never came. With P's three slots
// free and nothing running, L and H2 stayed queued for ever.
func TestHostileParkedRewakeAtTheSameCapPassesItOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHeavyAtP(t)
		l, err := Go(h.x, func(context.Context) error { return nil }) // parks at P behind heavy
		require.NoError(t, err)
		h2, err := Go(h.p, func(context.Context) error { return nil }) // behind heavy in P's own queue
		require.NoError(t, err)
		h.cancelHeavy(t)
		h.freeRoot(t)
		if st := h.s.Stats(); st.Queued != 0 {
			t.Errorf("idle but queued: %+v", st)
			h.s.Root().Cancel(errors.New("hung")) // let the test end
		}
		assert.NoError(t, l.Wait(context.Background()))
		assert.NoError(t, h2.Wait(context.Background()))
		require.NoError(t, h.s.Shutdown(context.Background()))
	})
}

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
		h := newHeavyAtP(t)
		g2, f2 := gateFn()
		h2, err := Go(h.p, f2) // behind heavy in P's own queue
		require.NoError(t, err)
		gl, fl := gateFn()
		l, err := Go(h.x, fl) // parks at P behind heavy
		require.NoError(t, err)
		h.cancelHeavy(t)
		require.Equal(t, lazytask.Running, h2.State())
		h.freeRoot(t) // the root has room for L too, and so has P
		assert.Equal(t, lazytask.Running, l.State(), "L, first in line at P with 2 of P's 3 slots free and the root's: %+v", h.p.Stats())
		close(g2)
		close(gl)
		require.NoError(t, l.Wait(context.Background()))
		require.NoError(t, h2.Wait(context.Background()))
		require.NoError(t, h.s.Shutdown(context.Background()))
	})
}
