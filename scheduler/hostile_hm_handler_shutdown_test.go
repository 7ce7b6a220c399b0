package scheduler_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// TestHMHandlerShutsItsScopeOrSchedulerDown: Kotlin's exception handler
// that stops the supervisor on the first failure. A handler is user code
// after a task's end (I11): shutting down its own scope or the whole
// scheduler from it must not deadlock, the running sibling is drained,
// and the queued ones run (graceful) before the shutdown returns.
func TestHMHandlerShutsItsScopeOrSchedulerDown(t *testing.T) {
	for _, what := range []string{"scope", "scheduler"} {
		t.Run(what, func(t *testing.T) {
			s, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithLogger(hsQuietLog))
			require.NoError(t, err)
			var sup *scheduler.Scope
			g := hsNewGate(t)
			shut := make(chan error, 1)
			sup = hsScope(t, s.Root(), scheduler.Supervise(func(info lazytask.Info, err error) {
				if what == "scope" {
					shut <- sup.Shutdown(context.Background())
				} else {
					shut <- s.Shutdown(context.Background())
				}
			}))
			sib, err := scheduler.Submit(sup, g.fn)
			require.NoError(t, err)
			hsWithin(t, g.started, "sibling")
			var runs [3]int
			queued := make([]*lazytask.Task[int], 3)
			for i := range queued {
				queued[i], err = scheduler.Submit(sup, func(context.Context) (int, error) { runs[i]++; return i, nil })
				require.NoError(t, err)
			}
			_, err = scheduler.Go(sup, func(context.Context) error { return hmErrD })
			require.NoError(t, err)
			// The handler is in Shutdown, waiting for the sibling.
			g.open()
			select {
			case err := <-shut:
				assert.NoError(t, err)
			case <-t.Context().Done():
			}
			_, err = hsAwait(t, sib)
			assert.NoError(t, err)
			for i, q := range queued {
				_, err := hsAwait(t, q)
				assert.NoError(t, err, "queued %d", i)
				assert.Equal(t, 1, runs[i])
			}
			if what == "scope" {
				require.NoError(t, s.Shutdown(context.Background()))
			}
		})
	}
}
