package errgroup_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/scheduler"
)

// TryGo reports whether f was started. On an In group whose scope takes no
// more tasks it reported true for a function that never ran, and the
// common fallback `if !g.TryGo(f) { f() }` then never ran f.
func TestInTryGoReportsARefusalAsNotStarted(t *testing.T) {
	for _, how := range []string{"canceled", "closed"} {
		t.Run(how, func(t *testing.T) {
			s, err := scheduler.New(scheduler.WithLimit(2))
			require.NoError(t, err)
			defer func() { require.NoError(t, s.Shutdown(context.Background())) }()
			sc, err := s.Root().NewScope()
			require.NoError(t, err)
			if how == "canceled" {
				sc.Cancel(errors.New("gone"))
			} else {
				require.NoError(t, sc.Shutdown(context.Background()))
			}
			g, _ := errgroup.In(context.Background(), sc)
			ran := false
			if !g.TryGo(func() error { ran = true; return nil }) {
				ran = true // the caller's fallback: it runs f itself
			}
			assert.True(t, ran, "f ran neither in the group nor in the caller's fallback")
			assert.NoError(t, g.Wait(), "a function TryGo did not start leaves no error")
		})
	}
}

// Go, which cannot say so, still counts the refusal as the error of a
// function that could not run.
func TestInGoCountsARefusalAsAnError(t *testing.T) {
	s, err := scheduler.New(scheduler.WithLimit(2))
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Shutdown(context.Background())) }()
	sc, err := s.Root().NewScope()
	require.NoError(t, err)
	sc.Cancel(errors.New("gone"))
	g, _ := errgroup.In(context.Background(), sc)
	g.Go(func() error { return nil })
	assert.Error(t, g.Wait())
}
