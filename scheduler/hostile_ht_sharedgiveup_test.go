package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// I11 when a shared limit gives up on a request inside Acquire (a Local
// answers a weight over its limit there): the task it was for ends
// Failed, and its done callback is user code that runs after a task's
// end. It must not delay or block the task that the freed slot admitted
// on the goroutine of the task that ended: here the callback awaits that
// task, and did so on the very goroutine that was to run it, after the
// ended task's Release and before it returned the task to run: a
// deadlock (broken here only by the callback's own timeout).
func TestHostileHTSharedGiveUpCallbackDoesNotHoldTheNextTask(t *testing.T) {
	l, err := limiter.NewLocal(1)
	require.NoError(t, err)
	s := hsSched(t, scheduler.WithLimit(2))
	top := hsScope(t, s.Root(), scheduler.WithSharedLimit(l), scheduler.WithName("top"))
	out := hsScope(t, s.Root(), scheduler.WithName("out"))
	// a fills the root cap; heavy (over the shared limit, within every
	// local cap) and next queue behind it, heavy first.
	a, g := hold(t, out, lazytask.WithWeight(2))
	hsWithin(t, g.started, "a starts")
	heavy, err := scheduler.Submit(top, func(context.Context) (int, error) { return 0, nil }, lazytask.WithWeight(2))
	require.NoError(t, err)
	next, err := scheduler.Submit(out, func(context.Context) (int, error) { return 7, nil })
	require.NoError(t, err)
	res := make(chan error, 1)
	heavy.OnDone(func(_ int, herr error) {
		ctx, cancel := context.WithTimeout(bg, 3*time.Second)
		defer cancel()
		_, err := next.Await(ctx)
		res <- err
	})
	g.open() // a ends: its slots admit next, and heavy's request is refused
	_, err = hsAwait(t, a)
	require.NoError(t, err)
	select {
	case err := <-res:
		require.NoError(t, err, "heavy's done callback waited for next, which its goroutine was to run")
	case <-time.After(10 * time.Second):
		t.Fatal("heavy's done callback never ran")
	}
	require.ErrorIs(t, heavy.Err(), limiter.ErrWeightTooLarge)
	v, err := hsAwait(t, next)
	require.NoError(t, err)
	require.Equal(t, 7, v)
}
