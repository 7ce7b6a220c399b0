package scheduler_test

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A worker goroutine that a labelled submitter spawned (pprof.Do in a
// request handler) goes on to run later tasks of other submitters: they
// must not be profiled under the first submitter's labels.
func TestWorkersDoNotKeepTheirSpawnersLabels(t *testing.T) {
	for _, labels := range []bool{false, true} {
		var opts []scheduler.SchedulerOption
		if labels {
			opts = append(opts, scheduler.WithPprofLabels())
		}
		s := scSched(t, append(opts, scheduler.WithLimit(1))...)
		pprof.Do(context.Background(), pprof.Labels("request", "r-42"), func(context.Context) {
			h, err := scheduler.Go(s, func(context.Context) error { return nil })
			require.NoError(t, err)
			require.NoError(t, h.Wait(bounded(t)))
		})
		// A task submitted later, by code with no labels, on the worker
		// the first one left lingering.
		h, err := scheduler.Submit(s, func(context.Context) (bool, error) {
			var b bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
			for _, entry := range strings.Split(b.String(), "\n\n") {
				if strings.Contains(entry, "TestWorkersDoNotKeepTheirSpawnersLabels.func") && strings.Contains(entry, `"request":"r-42"`) {
					return true, nil
				}
			}
			return false, nil
		}, lazytask.WithName("later"))
		require.NoError(t, err)
		stale, err := h.Await(bounded(t))
		require.NoError(t, err)
		assert.False(t, stale, "pprofLabels=%v: a later task runs under the labels of the code that spawned its worker", labels)
	}
}
