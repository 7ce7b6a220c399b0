package errgroup_test

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/scheduler"
)

// In with a nil scheduler or scope in its Spawner is WithContext; with a
// zero one (not made by New or NewScope) it panics with the message of its
// methods, at In, before any function is given to it.
func TestHoInWithANilOrZeroSpawner(t *testing.T) {
	var nilSched *scheduler.Scheduler
	var nilScope *scheduler.Scope
	for name, sp := range map[string]scheduler.Spawner{"nil": nil, "nil *Scheduler": nilSched, "nil *Scope": nilScope} {
		g, ctx := errgroup.In(bg, sp)
		require.NotNil(t, ctx, name)
		var ran atomic.Bool
		g.Go(func() error { ran.Store(true); return nil })
		require.NoError(t, waitBounded(t, g), name)
		assert.True(t, ran.Load(), name)
	}
	assert.PanicsWithValue(t, "scheduler: method called on a zero Scope (make one with Scope.NewScope)",
		func() { errgroup.In(bg, new(scheduler.Scope)) })
	assert.PanicsWithValue(t, "scheduler: method called on a zero Scheduler (make one with New)",
		func() { errgroup.In(bg, new(scheduler.Scheduler)) })
}
