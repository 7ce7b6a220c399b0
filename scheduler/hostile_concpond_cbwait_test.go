package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A task that cancels a queued or lazy one (by its Cancel, or by canceling
// its scope) runs that one's done callbacks on its own goroutine, where they
// count as inside it (README). A callback there that waits for the
// scheduler, a scope or another task, with a context of its own, neither
// deadlocks on the canceling task nor holds its slot.
func TestPeersCallbackRunByACancelWaitsInsideTheCancelingTask(t *testing.T) {
	for _, kind := range []string{"task", "lazy", "scope"} {
		for _, how := range []string{"scheduler.Wait", "scope.Wait", "Await"} {
			t.Run(kind+"/"+how, func(t *testing.T) { hoCallbackWaitInside(t, kind, how) })
		}
	}
}

func hoCallbackWaitInside(t *testing.T, kind, how string) {
	s := startScheduler(t, scheduler.WithLimit(2))
	sc, err := s.Root().NewScope(scheduler.WithLimit(1))
	require.NoError(t, err)
	vsc, err := s.Root().NewScope(scheduler.WithLimit(1))
	require.NoError(t, err)
	holder, vg := hold(t, vsc) // the victim stays queued behind it
	victimReady := make(chan *lazytask.Task[int], 1)
	cbDone := make(chan error, 1)
	canceler, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) {
		v := <-victimReady
		if kind == "scope" {
			vsc.Cancel(nil) // runs v's callbacks here
		} else {
			v.Cancel(nil) // runs v's callbacks here
		}
		return 1, nil
	})
	require.NoError(t, err)
	other, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) { return 3, nil })
	require.NoError(t, err)
	var victim *lazytask.Task[int]
	if kind == "lazy" {
		victim = scheduler.NewTask(vsc, func(ctx context.Context) (int, error) { return 2, nil })
	} else {
		victim, err = scheduler.Submit(vsc, func(ctx context.Context) (int, error) { return 2, nil })
		require.NoError(t, err)
	}
	victim.OnDone(func(int, error) {
		vg.open()
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		switch how {
		case "scheduler.Wait":
			cbDone <- s.Wait(ctx)
		case "scope.Wait":
			cbDone <- sc.Wait(ctx)
		default:
			_, err := other.Await(ctx)
			cbDone <- err
		}
	})
	victimReady <- victim
	select {
	case err := <-cbDone:
		assert.NoError(t, err, "the callback's wait")
	case <-time.After(15 * time.Second):
		t.Fatalf("%s from a callback run by a cancel inside a task: hang (canceler %v, other %v, holder %v)", how, canceler.State(), other.State(), holder.State())
	}
	_, err = canceler.Await(bg)
	require.NoError(t, err)
	_, err = other.Await(bg)
	require.NoError(t, err)
	require.NoError(t, s.Wait(bg))
	assert.Equal(t, lazytask.Canceled, victim.State())
	statsAddUp(t, s.Stats(), kind+"/"+how)
}
