package scheduler_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// limiter.NewLocal(0) returns a nil *Local and ErrInvalidLimit; a caller
// that drops the error hands WithSharedLimit a limiter.Shared that holds a
// nil pointer. WithSharedLimit compared the interface with nil and took
// it: the scope was made, and the first task's permit request called
// Acquire on the nil *Local, a nil dereference in Submit. It is refused
// with ErrInvalidOption, as a nil limit is.
func TestHostileWithSharedLimitRefusesATypedNilLimit(t *testing.T) {
	loc, err := limiter.NewLocal(0)
	require.ErrorIs(t, err, limiter.ErrInvalidLimit)
	require.Nil(t, loc)

	_, err = scheduler.New(scheduler.WithSharedLimit(loc))
	assert.ErrorIs(t, err, scheduler.ErrInvalidOption, "New(WithSharedLimit(nil *Local))")

	s := startScheduler(t, scheduler.WithLimit(2))
	sc, err := s.Root().NewScope(scheduler.WithSharedLimit(loc))
	if !assert.ErrorIs(t, err, scheduler.ErrInvalidOption, "NewScope(WithSharedLimit(nil *Local))") {
		assert.NotPanics(t, func() {
			h, err := scheduler.Submit(sc, func(context.Context) (int, error) { return 1, nil })
			if err == nil {
				_ = h.Wait(context.Background())
			}
		}, "Submit to the scope made with a nil *Local")
	}
}
