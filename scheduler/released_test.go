package scheduler_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

// Released is false for a live scope and for a canceled one whose task
// still runs, and true once that task has ended.
func TestScopeReleased(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(2))
	sc, err := s.Root().NewScope(scheduler.WithName("host"))
	require.NoError(t, err)
	assert.False(t, sc.Released(), "a live scope")
	started, release := make(chan struct{}), make(chan struct{})
	h, err := scheduler.Go(sc, func(context.Context) error { close(started); <-release; return nil })
	require.NoError(t, err)
	<-started
	sc.Cancel(nil)
	assert.False(t, sc.Released(), "a canceled scope whose task still runs")
	close(release)
	require.NoError(t, h.Wait(bg))
	require.NoError(t, sc.Wait(bg))
	assert.True(t, sc.Released(), "a canceled scope with nothing left")
	assert.False(t, s.Root().Released(), "the root")
}
