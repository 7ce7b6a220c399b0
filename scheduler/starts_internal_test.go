package scheduler

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/internal/core"
)

// startQ does not grow with the tasks that pass through it while it never
// empties (taken slots at its front are reused), and it keeps no array of
// a large burst's size once that burst is over.
func TestStartQueueMemoryIsBounded(t *testing.T) {
	var s Scheduler
	s.starting = 1
	tasks := make([]core.Task, 16)
	for i := range 8 {
		require.True(t, s.deferStartLocked(&tasks[i]))
	}
	for i := range 100_000 {
		require.True(t, s.deferStartLocked(&tasks[(i+8)%16]))
		require.Same(t, &tasks[i%16], s.popStartLocked(), "FIFO")
	}
	assert.LessOrEqual(t, cap(s.startQ), 32, "a startQ of 8 to 9 tasks that never empties grew")
	for range 8 {
		require.NotNil(t, s.popStartLocked())
	}
	require.Nil(t, s.popStartLocked())

	for i := range 5000 {
		require.True(t, s.deferStartLocked(&tasks[i%16]))
	}
	for range 5000 {
		require.NotNil(t, s.popStartLocked())
	}
	assert.Nil(t, s.startQ, "an empty startQ keeps a burst's array")
}
