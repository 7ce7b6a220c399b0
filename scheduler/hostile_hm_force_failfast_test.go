package scheduler_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// TestHMForceRunFailureInAFailFastGroup: a task force-run over the cap
// that fails cancels its fail-fast group like any other: the running
// sibling sees the error as its cause, the queued ones never start, a
// Promote of one of them after the failure finds it no longer queued,
// Wait reports the error once and the over-cap count goes back to 0.
func TestHMForceRunFailureInAFailFastGroup(t *testing.T) {
	s := hsSched(t, scheduler.WithLimit(4))
	sc := hsScope(t, s.Root(), scheduler.FailFast(), scheduler.WithLimit(1))
	started := make(chan struct{})
	seen := make(chan hsSeen, 1)
	holder, err := scheduler.Submit(sc, hsUntilDone(started, seen, hsRetErr))
	require.NoError(t, err)
	hsWithin(t, started, "holder")
	var runs atomic.Int32
	q1, err := scheduler.Submit(sc, scCount(&runs))
	require.NoError(t, err)
	release := make(chan struct{})
	forced, err := scheduler.Submit(sc, func(context.Context) (int, error) {
		<-release
		return 0, hmErrD
	})
	require.NoError(t, err)
	q2, err := scheduler.Submit(sc, scCount(&runs))
	require.NoError(t, err)
	require.NoError(t, sc.Force(forced))
	assert.Equal(t, 1, sc.Stats().OverCap, "the forced task runs over the cap")
	close(release)
	_, err = hsAwait(t, forced)
	assert.ErrorIs(t, err, hmErrD)
	for _, q := range []*lazytask.Task[int]{q1, q2} {
		_, err := hsAwait(t, q)
		assert.ErrorIs(t, err, hmErrD)
		assert.Equal(t, lazytask.Canceled, q.State())
		assert.True(t, errors.Is(s.Promote(q), scheduler.ErrNotQueued), "Promote of a task the failure canceled")
	}
	_, err = hsAwait(t, holder)
	assert.Equal(t, lazytask.Canceled, holder.State())
	assert.ErrorIs(t, (<-seen).cause, hmErrD)
	werr := hsWait(t, sc)
	assert.ErrorIs(t, werr, hmErrD)
	assert.Len(t, hsJoined(werr), 1)
	assert.Zero(t, runs.Load())
	st := sc.Stats()
	assert.Zero(t, st.OverCap+st.Running+st.Queued+st.InUse, "%+v", st)
	assert.EqualValues(t, 1, st.ForceRuns)
	assert.Zero(t, s.Stats().OverCap)
}
