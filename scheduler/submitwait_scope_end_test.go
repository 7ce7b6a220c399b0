package scheduler_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// SubmitWait into a child scope waits for room in the scheduler's full
// queue (full of the root's tasks); the child scope is then canceled, shut
// down, or the whole tree canceled through the base context. SubmitWait
// into the root returns ErrClosed at once when the scheduler's Shutdown
// begins; here it goes on waiting for room for a scope that refuses work.
func TestSubmitWaitIntoAScopeThatEndsIsRefusedAtOnce(t *testing.T) {
	for _, how := range []string{"scope Cancel", "scope Shutdown", "base context canceled"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				base, cancelBase := context.WithCancelCause(context.Background())
				defer cancelBase(nil)
				s := scSched(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1), scheduler.WithBaseContext(base))
				_, g := scHold(t, s)
				_, err := scheduler.Submit(s, func(context.Context) (int, error) { return 0, nil })
				require.NoError(t, err) // fills the queue
				sc := scChild(t, s.Root())
				type res struct {
					h   *lazytask.Task[int]
					err error
				}
				out := make(chan res, 1)
				go func() {
					h, err := scheduler.SubmitWait(context.Background(), sc, func(context.Context) (int, error) { return 1, nil })
					out <- res{h, err}
				}()
				synctest.Wait()
				shut := make(chan error, 1)
				switch how {
				case "scope Cancel":
					sc.Cancel(errBoom)
				case "scope Shutdown":
					go func() { shut <- sc.Shutdown(context.Background()) }()
				case "base context canceled":
					cancelBase(errBoom)
				}
				synctest.Wait()
				select {
				case r := <-out:
					require.True(t, errors.Is(r.err, scheduler.ErrScopeCanceled) || errors.Is(r.err, scheduler.ErrClosed), "%v", r.err)
				default:
					g.open()
					r := <-out
					t.Errorf("SubmitWait into a scope that ended (%s) still waited for room; once room was made it returned %v (%v)", how, r.err, r.h.State())
				}
				if how == "scope Shutdown" {
					require.NoError(t, <-shut)
				}
			})
		})
	}
}
