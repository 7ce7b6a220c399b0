package factory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

type reqIDKey struct{}

// A WithOptions factory's WithContext reaches the tasks of every
// combinator: its cancellation cancels them, and its values reach them.
// Before, each combinator's own ctx (its values) came after the factory's
// options and replaced the request's context.
func TestWithOptionsContextReachesTheCombinatorsTasks(t *testing.T) {
	s, err := scheduler.New(scheduler.WithLimit(2))
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Shutdown(context.Background())) }()
	bg := context.Background()

	t.Run("cancellation through Gather", func(t *testing.T) {
		req, cancel := context.WithCancelCause(context.WithValue(bg, reqIDKey{}, "r1"))
		gone := errors.New("request gone")
		f := factory.WithOptions(s, lazytask.WithContext(req))
		started := make(chan struct{})
		go func() { <-started; cancel(gone) }()
		// A bound, so that a lost cancellation fails instead of hanging.
		bound, stop := context.WithTimeout(bg, time.Minute)
		defer stop()
		_, err := factory.Gather(bound, f, func(ctx context.Context) (string, error) {
			close(started)
			<-ctx.Done() // only the request's cancellation ends this
			return "", context.Cause(ctx)
		})
		require.ErrorIs(t, err, gone)
	})

	t.Run("values through Race, Map and AsCompleted", func(t *testing.T) {
		req := context.WithValue(bg, reqIDKey{}, "r2")
		f := factory.WithOptions(s, lazytask.WithValues(req))
		read := func(ctx context.Context) (string, error) {
			v, _ := ctx.Value(reqIDKey{}).(string)
			return v, nil
		}
		v, err := factory.Race(bg, f, read)
		require.NoError(t, err)
		assert.Equal(t, "r2", v, "Race")
		out, err := factory.Map(bg, f, []int{1, 2}, 1, func(ctx context.Context, _ int) (string, error) { return read(ctx) })
		require.NoError(t, err)
		assert.Equal(t, []string{"r2", "r2"}, out, "Map")
		for _, r := range factory.AsCompleted(bg, f, read) {
			assert.Equal(t, "r2", r.Value, "AsCompleted")
		}
	})

	t.Run("without a context of the factory's, the combinator's values", func(t *testing.T) {
		ctx := context.WithValue(bg, reqIDKey{}, "caller")
		f := factory.WithOptions(s, lazytask.WithName("fan"))
		vs, err := factory.Gather(ctx, f, func(ctx context.Context) (string, error) {
			v, _ := ctx.Value(reqIDKey{}).(string)
			return v, nil
		})
		require.NoError(t, err)
		assert.Equal(t, []string{"caller"}, vs)
	})
}

// A typed nil scope or scheduler given as a Factory is refused with
// scheduler.ErrNilScope by Submit and the combinators, as scheduler.Submit
// refuses a nil one, instead of panicking in its methods; a typed nil
// handle given to Goroutines is ErrForeignHandle, as a scheduler says.
func TestTypedNilFactoriesAndHandlesAreRefused(t *testing.T) {
	fn := func(context.Context) (int, error) { return 1, nil }
	for _, f := range []factory.Factory{(*scheduler.Scope)(nil), (*scheduler.Scheduler)(nil)} {
		h, err := factory.Submit(f, fn)
		require.ErrorIs(t, err, scheduler.ErrNilScope, "%T", f)
		assert.Equal(t, lazytask.Canceled, h.State(), "the refused task never runs")
		_, err = factory.Gather(context.Background(), f, fn)
		require.ErrorIs(t, err, scheduler.ErrNilScope, "Gather %T", f)
	}
	require.ErrorIs(t, factory.Goroutines{}.Enqueue((*lazytask.Task[int])(nil)), scheduler.ErrForeignHandle)
}
