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
