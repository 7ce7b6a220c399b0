package lazytask_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

// TestHostileHWInfoEndedIsWhole is the converse of
// TestInfoIsOneSnapshotWhileTheTaskEnds: an Info whose State is terminal
// has the whole end in it: its Err (not nil for Failed or Canceled, the
// cause for a canceled Lazy task), a Finished time for a task that keeps
// timings (none before Started for one that ran), and Labels that are a
// copy. Readers race a Cancel of a Lazy task, a Cancel of a running one,
// and a plain end.
func TestHostileHWInfoEndedIsWhole(t *testing.T) {
	cause := errors.New("hW: cause")
	for round := range 300 {
		var tk *lazytask.Task[int]
		started := make(chan struct{})
		switch round % 3 {
		case 0: // Lazy, canceled
			tk = lazytask.New(func(ctx context.Context) (int, error) { return 0, nil }, lazytask.WithTimings(), lazytask.WithLabel("k", "v"))
		case 1: // running, canceled: returns its context's cause
			tk = lazytask.New(func(ctx context.Context) (int, error) {
				close(started)
				<-ctx.Done()
				return 0, context.Cause(ctx)
			}, lazytask.WithTimings(), lazytask.WithLabel("k", "v"))
			require.NoError(t, tk.Start())
			<-started
		case 2: // runs and fails on its own
			tk = lazytask.New(func(ctx context.Context) (int, error) {
				<-started
				return 0, cause
			}, lazytask.WithTimings(), lazytask.WithLabel("k", "v"))
			require.NoError(t, tk.Start())
		}
		var wg sync.WaitGroup
		bad := make(chan string, 4)
		for range 2 {
			wg.Go(func() {
				for {
					i := tk.Info()
					if i.State.Terminal() {
						if i.Err == nil && i.State != lazytask.Succeeded {
							bad <- "terminal State with no Err: " + i.State.String()
						}
						if i.Timings.Finished.IsZero() {
							bad <- "terminal State with no Finished time: " + i.State.String()
						}
						if !i.Timings.Started.IsZero() && i.Timings.Finished.Before(i.Timings.Started) {
							bad <- "Finished before Started"
						}
						i.Labels["k"] = "changed"
						return
					}
				}
			})
		}
		switch round % 3 {
		case 0, 1:
			tk.Cancel(cause)
		case 2:
			close(started)
		}
		wg.Wait()
		close(bad)
		for b := range bad {
			t.Fatalf("round %d: %s", round, b)
		}
		assert.Equal(t, "v", tk.Options().Labels["k"], "Info's Labels are the task's own map")
		assert.ErrorIs(t, tk.Info().Err, cause)
	}
}
