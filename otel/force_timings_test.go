package lazyotel_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

// A task made by lazytask.New and force-run into a scheduler with the
// Observer's hooks ran: its run time is in lazysched.task.run_time and its
// span has the queue_time attribute that only a task that never ran lacks.
func TestForceRunOfALazytaskNewTaskIsTimed(t *testing.T) {
	r := newRig(t)
	s := r.sched(t)
	h := lazytask.New(func(context.Context) (int, error) { return 1, nil }, lazytask.WithName("forced"))
	require.NoError(t, s.Force(h))
	_, err := h.Await(bounded(t))
	require.NoError(t, err)
	shutdown(t, s)
	assert.Equal(t, map[scopeOutcome]int64{{"root", "succeeded"}: 1}, hTaskCounts(t, r), "tasks counted")
	assert.Equal(t, map[scopeOutcome]uint64{{"root", "succeeded"}: 1}, hHistCounts(t, r, "lazysched.task.run_time"), "run times recorded")
	a := attrs(r.span(t, "forced"))
	_, ok := a["lazysched.task.queue_time"]
	assert.True(t, ok, "the span of a task that ran has lazysched.task.queue_time")
}
