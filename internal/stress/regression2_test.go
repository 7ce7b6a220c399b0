package stress

// Regression tests of the last bug the stress suite found (a scope
// timeout's cancellation outliving Shutdown), and the driver in strict
// mode, where any known-bug symptom counts as a violation.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// bugDeadline bounds each bug test's waits: past it, a wait is a hang.
const bugDeadline = 5 * time.Second

func bugSched(t *testing.T, opts ...scheduler.SchedulerOption) *scheduler.Scheduler {
	t.Helper()
	s, err := scheduler.New(append([]scheduler.SchedulerOption{scheduler.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatalf("scheduler.New = %v", err)
	}
	return s
}

// Scheduler.Shutdown "waits for every goroutine of the scheduler to exit,
// so nothing outlives it" (I7). A scope made WithTimeout or WithDeadline
// cancels itself from a context.AfterFunc goroutine that the scheduler does
// not wait for; when the deadline cancels queued tasks, their done
// callbacks (and OnDone hooks) run on that goroutine, and Shutdown can
// return while they still run. The stress suite saw it as callbacks that
// had not run when Shutdown returned (1 run in about 40 of the -race short
// run, under load).
func TestBugShutdownWaitsForTheCallbacksOfAScopeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := bugSched(t, scheduler.WithLimit(1))
		gate := make(chan struct{})
		holder, _ := scheduler.Submit(s, func(context.Context) (int, error) { <-gate; return 0, nil })
		timed, err := s.Root().NewScope(scheduler.WithTimeout(time.Second))
		if err != nil {
			t.Fatalf("NewScope(WithTimeout) = %v", err)
		}
		q, err := scheduler.Submit(timed, func(context.Context) (int, error) { return 1, nil })
		if err != nil || q.State() != lazytask.Queued {
			t.Fatalf("Submit to the timed scope behind the holder = %v, %v; want nil, queued", err, q.State())
		}
		entered, release := make(chan struct{}), make(chan struct{})
		var finished atomic.Bool
		q.OnDone(func(int, error) {
			close(entered)
			<-release
			finished.Store(true)
		})
		<-entered // the deadline canceled q; its callback runs on the AfterFunc goroutine
		close(gate)
		_, _ = holder.Await(context.Background())

		done := make(chan error, 1)
		go func() { done <- s.Shutdown(context.Background()) }()
		synctest.Wait()
		returned := false
		select {
		case <-done:
			returned = true
			if !finished.Load() {
				t.Errorf("Shutdown returned while a done callback of one of its tasks was still running (on the scope deadline's goroutine)")
			}
		default: // Shutdown waits for the callback: right
		}
		close(release)
		if !returned {
			<-done
		}
	})
}

// TestStrictStress runs the stress driver in strict mode: the known bugs'
// symptoms count as violations. While bugs are open (openBugs), their
// symptoms are logged and the test is skipped at the end; any other
// violation fails it.
func TestStrictStress(t *testing.T) {
	var open []string
	for _, seed := range stressSeeds(t) {
		t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) {
			rep := Run(Config{Seed: seed, Tasks: 20_000, RoundTasks: 5_000, Strict: true, Progress: os.Stderr})
			other := rep.Violations
			for inv, n := range rep.ByInvariant {
				if name, ok := strings.CutPrefix(inv, "known:"); ok && slices.Contains(openBugs, name) {
					other -= int64(n)
					open = append(open, fmt.Sprintf("seed %d: %s x%d", seed, name, n))
				}
			}
			if other > 0 {
				t.Errorf("%d violations in strict mode besides the open bugs' symptoms:\n%s", other, rep)
			}
		})
	}
	if len(open) > 0 && !t.Failed() {
		t.Skipf("strict mode cannot pass while these bugs are open (bugs_test.go, scheduler/completion_test.go); their symptoms: %v", open)
	}
}
