package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Issue 3, item 9: panics in tasks of scopes.

func TestScopePanicBecomesAPanicErrorAndFreesTheScopeSlot(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(2))
	sc := scChild(t, s.Root(), scheduler.WithName("sc"), scheduler.WithLimit(1))
	value := errors.New("nil map write")
	for i := range 3 {
		h, err := scheduler.Submit(sc, func(context.Context) (int, error) { panic(value) })
		require.NoError(t, err)
		_, err = h.Await(context.Background())
		var pe *lazytask.PanicError
		if !errors.As(err, &pe) || pe.Value != value {
			t.Fatalf("Await of panicking task %d = %v; want a *PanicError with Value %v", i, err, value)
		}
		assert.ErrorIs(t, err, value, "a PanicError unwraps to an error value")
		assert.NotEmpty(t, pe.Stack, "PanicError.Stack")
		assert.Equal(t, lazytask.Failed, h.State(), "State() of a panicking task")
	}
	// With sc's cap of 1, a leaked slot would stop every later task.
	var runs atomic.Int32
	for range 3 {
		h, err := scheduler.Submit(sc, scCount(&runs))
		require.NoError(t, err)
		_, err = h.Await(context.Background())
		require.NoError(t, err, "Await of a task after the panics")
	}
	assert.Equal(t, int32(3), runs.Load(), "runs after the panics")
	require.NoError(t, s.Wait(context.Background()))
	assert.Zero(t, s.Stats().InUse, "Stats().InUse after the panics")
	assert.Zero(t, sc.Snapshot().InUse, "sc's InUse after the panics")
	assert.Equal(t, uint64(3), s.Stats().Failed, "Stats().Failed")
}

func TestScopeFailFastReportsAPanicAsItsError(t *testing.T) {
	s := scSched(t)
	g := scChild(t, s.Root(), scheduler.WithName("g"), scheduler.FailFast())
	sib, _ := scUntilCanceled(t, g)
	_, err := scheduler.Go(g, func(context.Context) error { panic("in the group") })
	require.NoError(t, err)
	werr := g.Wait(context.Background())
	var pe *lazytask.PanicError
	require.ErrorAs(t, werr, &pe, "Wait of a fail-fast scope whose task panicked")
	assert.Equal(t, "in the group", pe.Value, "PanicError.Value")
	assert.Equal(t, lazytask.Canceled, sib.State(), "the panic cancels the siblings")
}

// TestScopeCrashHelperProcess is the child program of
// TestScopeWithoutPanicRecoveryCrashesTheProcess: a task panics in a
// scheduler or scope that does not recover panics.
func TestScopeCrashHelperProcess(t *testing.T) {
	mode := os.Getenv("LAZYSCHED_SCOPE_CRASH")
	if mode == "" {
		t.Skip("helper process for TestScopeWithoutPanicRecoveryCrashesTheProcess")
	}
	var sp scheduler.Spawner
	switch mode {
	case "scheduler":
		s, err := scheduler.New(scheduler.WithoutPanicRecovery())
		require.NoError(t, err)
		sp = s
	case "scope":
		s, err := scheduler.New()
		require.NoError(t, err)
		sp, err = s.Root().NewScope(scheduler.WithoutPanicRecovery())
		require.NoError(t, err)
	case "inherited":
		s, err := scheduler.New()
		require.NoError(t, err)
		parent, err := s.Root().NewScope(scheduler.WithoutPanicRecovery())
		require.NoError(t, err)
		sp, err = parent.NewScope(scheduler.WithName("grandchild"))
		require.NoError(t, err)
	case "recovered": // the control: the default recovers
		s, err := scheduler.New()
		require.NoError(t, err)
		sp = s
	}
	h, err := scheduler.Go(sp, func(context.Context) error { panic("scope crash test") })
	require.NoError(t, err)
	err = h.Wait(context.Background())
	fmt.Println("survived:", err != nil)
	os.Exit(0)
}

func TestScopeWithoutPanicRecoveryCrashesTheProcess(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		crash bool
	}{
		{"scheduler", true},
		{"scope", true},
		{"inherited", true},
		{"recovered", false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestScopeCrashHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), "LAZYSCHED_SCOPE_CRASH="+tc.mode,
				// a race-enabled child that exits normally would wait 1s
				"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else {
				require.NoError(t, err, "running the child process")
			}
			if !tc.crash {
				assert.Equal(t, 0, code, "exit status of a child whose panic was recovered; output:\n%s", out)
				assert.Contains(t, string(out), "survived: true", "child output")
				return
			}
			assert.NotEqual(t, 0, code, "exit status of a child whose task panicked without recovery; output:\n%s", out)
			assert.Regexp(t, `(?m)^panic: scope crash test`, string(out), "child output: the runtime's crash report")
			assert.NotContains(t, string(out), "survived", "child output")
		})
	}
}
