package limiter_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
)

// hpLiar breaks the context contract: its Done closes while Err says nil.
type hpLiar struct {
	context.Context
	done chan struct{}
}

func (l *hpLiar) Done() <-chan struct{} { return l.done }

// Acquire must not report success (nil) for slots it did not take because
// its context ended, even for a context whose Err lies: its caller would
// run over the limit, and its Release would panic or free another's slot.
func TestHostileHPAcquireLyingContextTakesNoSlotSilently(t *testing.T) {
	w, err := limiter.NewWeighted(1)
	require.NoError(t, err)
	require.True(t, w.TryAcquire(1))

	// Done already closed when Acquire is called.
	early := &hpLiar{Context: context.Background(), done: make(chan struct{})}
	close(early.done)
	require.Error(t, w.Acquire(early, 1), "Acquire with a done context, the slot taken")

	// Done closed while Acquire waits (or as it is called: either way it
	// took no slot).
	late := &hpLiar{Context: context.Background(), done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() { errc <- w.Acquire(late, 1) }()
	close(late.done)
	select {
	case err := <-errc:
		require.Error(t, err, "Acquire cut short by its context")
	case <-time.After(10 * time.Second):
		t.Fatal("Acquire hung")
	}
	require.Equal(t, int64(1), w.InUse(), "only the TryAcquire's slot is held")
	w.Release(1)
}
