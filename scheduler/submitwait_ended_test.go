package scheduler_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// The simplest form: an OnQueue hook cancels (or force-runs) the task
// itself, synchronously, as the Hooks doc allows. Submit then returns at
// once (ErrNotQueued, or nil); SubmitWait into a full queue instead waits
// for room for a task that has already ended (or already runs).
func TestSubmitWaitReturnsOnceAHookEndedOrForceRanItsTask(t *testing.T) {
	for _, act := range []string{"cancel", "force"} {
		t.Run(act, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var s *scheduler.Scheduler
				s = scSched(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1), scheduler.WithHooks(scheduler.Hooks{
					OnQueue: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
						if h.Name() != "victim" {
							return
						}
						if act == "cancel" {
							h.Cancel(errBoom)
						} else {
							_ = s.Force(h)
						}
					},
				}))
				_, g := scHold(t, s)
				_, err := scheduler.Submit(s, func(context.Context) (int, error) { return 0, nil })
				require.NoError(t, err) // fills the queue
				out := make(chan error, 1)
				var h *lazytask.Task[int]
				go func() {
					var err error
					h, err = scheduler.SubmitWait(context.Background(), s, func(context.Context) (int, error) { return 1, nil }, lazytask.WithName("victim"))
					out <- err
				}()
				synctest.Wait()
				select {
				case err := <-out:
					t.Logf("SubmitWait returned %v, task %v", err, h.State())
				default:
					g.open()
					err := <-out
					t.Errorf("SubmitWait waited for room after its OnQueue hook %s the task; once room was made it returned %v (task %v)", map[string]string{"cancel": "canceled", "force": "force-ran"}[act], err, h.State())
				}
			})
		})
	}
}
