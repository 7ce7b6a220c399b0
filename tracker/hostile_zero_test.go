package tracker_test

import (
	"context"
	"expvar"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
	"github.com/lazysched/lazysched/tracker"
)

// A nil *Tracker is a mistake at the call that uses it, not at every
// task's hooks (each of which would panic and be contained per task) nor
// at every read of /debug/vars (expvar.Do would panic in the Func and
// break the whole page, every other variable included). As the prom
// Collector and the scheduler do, it panics at once, naming it, and
// Publish publishes nothing.
func TestHostileNilTrackerPanicsNamingIt(t *testing.T) {
	const want = "tracker: method called on a nil *Tracker"
	var tr *tracker.Tracker
	assert.PanicsWithValue(t, want, func() { tr.Hooks() }, "Hooks")
	assert.PanicsWithValue(t, want, func() { tr.Figures() }, "Figures")
	name := fmt.Sprintf("lazysched_tracker_nil_%d", runs.Add(1))
	assert.PanicsWithValue(t, want, func() { tr.Publish(name) }, "Publish")
	assert.Nil(t, expvar.Get(name), "a nil Tracker's Publish published %q", name)
}

// Figures' Rejected is Stats.Rejected for the refusals that hooks see; a
// task refused for bad input fires no hook, so Stats counts it (Created,
// Rejected) and the Tracker does not, as its doc now says (it claimed
// "as Scheduler.Stats does" without that exception, which prom's doc
// already made).
func TestHostileTrackerBadInputRefusalsAreStatsOnly(t *testing.T) {
	var tr tracker.Tracker
	s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithHooks(tr.Hooks()))
	require.NoError(t, err)
	_, err = scheduler.Submit[int](s, nil)
	require.ErrorIs(t, err, lazytask.ErrNilFunc)
	_, err = scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithWeight(0))
	require.ErrorIs(t, err, lazytask.ErrInvalidOption)
	_, err = scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithWeight(2))
	require.ErrorIs(t, err, scheduler.ErrWeightTooLarge)
	require.NoError(t, s.Shutdown(context.Background()))
	f, st := tr.Figures(), s.Stats()
	assert.Equal(t, uint64(3), st.Rejected, "Stats.Rejected: both bad inputs and the heavy task")
	assert.Equal(t, int64(1), f.Rejected, "Figures.Rejected: the heavy task alone, the one its hooks saw")
	assert.Equal(t, uint64(3), st.Created, "Stats.Created")
	assert.Equal(t, int64(1), f.Created, "Figures.Created")
}
