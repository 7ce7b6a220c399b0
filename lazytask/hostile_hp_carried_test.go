package lazytask_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

// A task made with a carried context that is already canceled is Canceled
// the moment New returns, with the context's cause, every time: not Lazy
// for a while until the watch's goroutine gets round to it, so that what
// the maker sees (its State, Err, a Start's answer) does not depend on a
// race, and its function never runs.
func TestHostileHPCarriedAlreadyCanceledEndsAtNew(t *testing.T) {
	cause := errors.New("request gone")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	for i := range 200 {
		ran := false
		h := lazytask.New(func(context.Context) (int, error) { ran = true; return 1, nil }, lazytask.WithContext(ctx))
		require.Equal(t, lazytask.Canceled, h.State(), "try %d: a task made with a canceled context", i)
		require.ErrorIs(t, h.Err(), cause, "try %d", i)
		require.ErrorIs(t, h.Start(), lazytask.ErrStarted, "try %d", i)
		<-h.Done()
		require.False(t, ran, "try %d", i)
	}
}
