package scheduler

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

// A SubmitWait waiting for room in a bounded queue, for a task that a
// Resize down makes heavier than a cap on its path, can never be queued:
// it must end with ErrWeightTooLarge at the Resize, as the queued tasks
// that no longer fit do and as a submit after the Resize does, not wait
// on for room that, when it comes, only leads to that refusal (here, as
// long as a long job holds the cap).
func TestHostileResizeDownRefusesAWaitingSubmitWaitTooHeavyNow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		scope bool // resize a scope, not the root
	}{{"root", false}, {"scope", true}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, err := New(WithLimit(3), WithQueueLimit(1))
				require.NoError(t, err)
				release := make(chan struct{})
				t.Cleanup(func() {
					close(release)
					require.NoError(t, s.Shutdown(context.Background()))
				})
				var sp Spawner = s
				resize := s.Resize
				if tc.scope {
					sc, err := s.Root().NewScope(WithLimit(3))
					require.NoError(t, err)
					sp, resize = sc, sc.Resize
				}
				started := make(chan struct{})
				_, err = Go(s, func(context.Context) error { close(started); <-release; return nil }, lazytask.WithWeight(3))
				require.NoError(t, err)
				<-started
				_, err = Go(s, func(context.Context) error { return nil }) // the queue is full
				require.NoError(t, err)

				done := make(chan error, 1)
				go func() {
					_, err := SubmitWait(context.Background(), sp, func(context.Context) (int, error) { return 1, nil }, lazytask.WithWeight(3))
					done <- err
				}()
				synctest.Wait() // the submit waits for room
				s.lock()
				waiting := s.room != nil
				s.unlock()
				require.True(t, waiting, "SubmitWait waits for room")
				require.NoError(t, resize(2))
				// A submit now is refused at once.
				_, err = Go(sp, func(context.Context) error { return nil }, lazytask.WithWeight(3))
				require.ErrorIs(t, err, ErrWeightTooLarge)
				select {
				case err := <-done:
					require.ErrorIs(t, err, ErrWeightTooLarge)
					st := s.Stats()
					require.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected+uint64(st.Queued+st.Running+st.Lazy), "Stats: %+v", st)
					require.Equal(t, uint64(2), st.Rejected, "the Go and the SubmitWait refused: %+v", st)
				case <-time.After(5 * time.Second):
					t.Fatal("SubmitWait still waits for room, for a task no cap can take any more")
				}
			})
		})
	}
}
