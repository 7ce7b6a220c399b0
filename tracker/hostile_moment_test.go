package tracker_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
	"github.com/lazysched/lazysched/tracker"
)

// Figures are "a Tracker's counts and durations at one moment": a monitor
// reading them while tasks come and go computes the tasks in flight as
// Created less those ended, or those started and not ended, and must never
// see more tasks ended than created, or more succeeded than started (all
// the tasks here succeed). Figures read Created first
// and the ends last, so a Figures call the runtime preempted between the
// two loads counted the ends of tasks it had not counted the creation
// of: in flight went negative (in every run here, hundreds of times).
func TestHostileFiguresNeverShowMoreTasksEndedThanCreatedOrStarted(t *testing.T) {
	var tr tracker.Tracker
	s, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithHooks(tr.Hooks()))
	require.NoError(t, err)
	const tasks = 20000
	stop := make(chan struct{})
	var reads, bad atomic.Int64
	var worst atomic.Pointer[tracker.Figures]
	reader := make(chan struct{})
	go func() {
		defer close(reader)
		for {
			select {
			case <-stop:
				return
			default:
			}
			f := tr.Figures()
			reads.Add(1)
			ended := f.Succeeded + f.Failed + f.Canceled + f.Rejected
			if ended > f.Created || f.Succeeded > f.Started || f.Started > f.Created || f.Queued > f.Created {
				bad.Add(1)
				worst.Store(&f)
			}
		}
	}()
	for range tasks {
		_, err := scheduler.Go(s, func(context.Context) error { return nil })
		require.NoError(t, err)
	}
	require.NoError(t, s.Shutdown(context.Background()))
	close(stop)
	<-reader
	if f := worst.Load(); f != nil {
		t.Logf("an inconsistent read: %+v", *f)
	}
	assert.Zero(t, bad.Load(), "Figures with more tasks ended than created or started, of %d reads", reads.Load())
	f := tr.Figures()
	assert.Equal(t, int64(tasks), f.Created)
	assert.Equal(t, int64(tasks), f.Succeeded)
}
