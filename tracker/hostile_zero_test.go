package tracker_test

import (
	"expvar"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

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
