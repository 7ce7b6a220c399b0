package tracker_test

import (
	"context"
	"errors"
	"expvar"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
	"github.com/lazysched/lazysched/tracker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runs counts the runs of TestTrackerFigures in this process.
var runs atomic.Int64

func TestTrackerFigures(t *testing.T) {
	var tr tracker.Tracker
	s, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithHooks(tr.Hooks()),
		scheduler.Supervise(func(lazytask.Info, error) {}))
	require.NoError(t, err)
	for i := range 30 {
		_, err := scheduler.Go(s, func(ctx context.Context) error {
			if i%10 == 0 {
				return errors.New("fail")
			}
			return nil
		})
		require.NoError(t, err)
	}
	require.NoError(t, s.Shutdown(context.Background()))
	f := tr.Figures()
	assert.Equal(t, int64(30), f.Created, "Created")
	assert.Equal(t, int64(30), f.Started, "Started")
	assert.Equal(t, int64(27), f.Succeeded, "Succeeded")
	assert.Equal(t, int64(3), f.Failed, "Failed")
	// expvar names live as long as the process: a name of this run's own,
	// so that -count=N runs it N times.
	name := fmt.Sprintf("lazysched_tracker_test_%d", runs.Add(1))
	assert.True(t, tr.Publish(name), "first Publish")
	assert.False(t, tr.Publish(name), "second Publish of the same name")
	assert.True(t, strings.Contains(expvar.Get(name).String(), `"Succeeded":27`))
}

func TestTrackerCountsRefusalsAsStatsDoes(t *testing.T) {
	var tr tracker.Tracker
	s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithQueueLimit(1), scheduler.WithHooks(tr.Hooks()))
	require.NoError(t, err)
	hold, release := make(chan struct{}), make(chan struct{})
	holder, err := scheduler.Go(s, func(context.Context) error { close(hold); <-release; return nil })
	require.NoError(t, err)
	<-hold
	queued, err := scheduler.Go(s, func(context.Context) error { return nil })
	require.NoError(t, err)
	require.True(t, queued.Cancel(nil), "Cancel of a queued task")
	again, err := scheduler.Go(s, func(context.Context) error { return nil })
	require.NoError(t, err, "Submit once the canceled task left the queue")
	_, err = scheduler.Go(s, func(context.Context) error { return nil })
	require.ErrorIs(t, err, scheduler.ErrQueueFull)
	_, err = scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithWeight(2))
	require.ErrorIs(t, err, scheduler.ErrWeightTooLarge)
	close(release)
	require.NoError(t, holder.Wait(context.Background()))
	require.NoError(t, again.Wait(context.Background()))
	require.NoError(t, s.Shutdown(context.Background()))

	f, st := tr.Figures(), s.Stats()
	assert.Equal(t, int64(2), f.Rejected, "Rejected")
	assert.Equal(t, int64(1), f.Canceled, "Canceled: the refusals are not in it")
	assert.Equal(t, int64(0), f.Failed, "Failed: the refusals are not in it")
	assert.Equal(t, int64(2), f.Succeeded, "Succeeded")
	assert.Equal(t, st.Rejected, uint64(f.Rejected), "Rejected against Stats")
	assert.Equal(t, st.Canceled, uint64(f.Canceled), "Canceled against Stats")
	// Queued counts every handoff, the two refused at it too (Figures).
	assert.Equal(t, int64(st.Submitted)+f.Rejected, f.Queued, "Queued: Submitted and the handoffs refused")
	assert.Equal(t, uint64(3), st.Submitted, "Submitted")
}

// Publish calls of one name at once: one reports true, the others false,
// and none panics (expvar.Publish panics on a name taken).
func TestConcurrentPublishOfOneNamePublishesOnce(t *testing.T) {
	for round := range 20 {
		name := fmt.Sprintf("lazysched_tracker_concurrent_%d_%d", runs.Add(1), round)
		start := make(chan struct{})
		oks := make(chan bool, 4)
		for range 4 {
			go func() {
				var tr tracker.Tracker
				<-start
				oks <- tr.Publish(name)
			}()
		}
		close(start)
		n := 0
		for range 4 {
			if <-oks {
				n++
			}
		}
		require.Equal(t, 1, n, "Publish calls of %q that reported true", name)
	}
}

// A name published by other code is taken: Publish reports false.
func TestPublishOfANameTakenElsewhereReportsFalse(t *testing.T) {
	name := fmt.Sprintf("lazysched_tracker_taken_%d", runs.Add(1))
	expvar.NewInt(name)
	var tr tracker.Tracker
	assert.False(t, tr.Publish(name))
}
