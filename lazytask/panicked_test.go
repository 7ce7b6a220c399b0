package lazytask_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

// Info.Panicked tells a task's own panic from a PanicError it returned
// (another task's): both end Failed with a *PanicError.
func TestInfoPanickedIsTheTasksOwnPanicOnly(t *testing.T) {
	inner := lazytask.New(func(context.Context) (int, error) { panic("inner") })
	require.NoError(t, inner.Start())
	outer := lazytask.New(func(ctx context.Context) (int, error) { return inner.Await(ctx) })
	require.NoError(t, outer.Start())
	_, err := outer.Await(context.Background())
	var pe *lazytask.PanicError
	require.True(t, errors.As(err, &pe), "the outer task returned the inner one's PanicError")
	assert.True(t, inner.Info().Panicked, "the inner task panicked")
	assert.False(t, outer.Info().Panicked, "the outer task returned a PanicError; it did not panic")
	assert.Equal(t, lazytask.Failed, outer.State())
	plain := lazytask.New(func(context.Context) (int, error) { return 0, errors.New("plain") })
	require.NoError(t, plain.Start())
	_ = plain.Wait(context.Background())
	assert.False(t, plain.Info().Panicked)
}
