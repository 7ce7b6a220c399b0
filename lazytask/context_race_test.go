package lazytask_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

// inChild re-runs the named test in a child process with the env var set,
// so that a crash (a panic on a goroutine no test can recover) fails this
// test instead of the whole binary. It reports true in the child.
func inChild(t *testing.T, name string) bool {
	t.Helper()
	if os.Getenv("LAZYSCHED_BUG_CHILD") == name {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LAZYSCHED_BUG_CHILD="+name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if i := bytes.Index(out, []byte("panic:")); i >= 0 {
			out = out[i:min(len(out), i+1200)]
		}
		t.Errorf("%s crashed the process: %v\n%s", name, err, out)
	}
	return false
}

// A context derived from a task's context (context.WithCancel,
// WithTimeout, context.AfterFunc ...) is canceled by the task's context on
// another goroutine; that goroutine reads parent.Err(), and the context
// package panics ("missing cancel error") if it is still nil. An earlier
// version closed the task context before its Err was set and crashed
// within a few thousand runs (a few dozen under -race). The loops run in a
// child process so that a crash fails the test rather than the binary.
func TestContextDerivedFromARunningTaskSurvivesItsCancel(t *testing.T) {
	if !inChild(t, "TestContextDerivedFromARunningTaskSurvivesItsCancel") {
		return
	}
	cause := errors.New("stop")
	stop := time.Now().Add(time.Second)
	for i := 0; time.Now().Before(stop); i++ {
		started := make(chan struct{})
		tk := lazytask.New(func(ctx context.Context) (int, error) {
			child, cancel := context.WithCancel(ctx)
			defer cancel()
			close(started)
			<-child.Done()
			return 0, nil
		})
		require.NoError(t, tk.Start())
		<-started
		tk.Cancel(cause)
		_, _ = tk.Await(bg)
	}
}

func TestAfterFuncOnATaskContextSurvivesTheEnd(t *testing.T) {
	if !inChild(t, "TestAfterFuncOnATaskContextSurvivesTheEnd") {
		return
	}
	stop := time.Now().Add(time.Second)
	for time.Now().Before(stop) {
		tk := lazytask.New(func(ctx context.Context) (int, error) {
			context.AfterFunc(ctx, func() {}) // runs when the function returns
			return 0, nil
		})
		require.NoError(t, tk.Start())
		_, _ = tk.Await(bg)
	}
}

// The context contract: once Done is closed, Err returns a non-nil error.
// An earlier version closed Done before it set Err, so a function that read
// ctx.Err() right after <-ctx.Done() got nil in about 2% of runs under
// -race, returned nil and ended Succeeded although it was canceled.
func TestTaskContextErrIsSetWhenDoneCloses(t *testing.T) {
	cause := errors.New("stop")
	bad := 0
	const n = 5000
	for range n {
		type seen struct{ err, cause error }
		out := make(chan seen, 1)
		started := make(chan struct{})
		tk := lazytask.New(func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			out <- seen{ctx.Err(), context.Cause(ctx)}
			return 0, ctx.Err()
		})
		require.NoError(t, tk.Start())
		<-started
		tk.Cancel(cause)
		if s := <-out; s.err == nil || s.cause != cause {
			bad++
		}
		_, _ = tk.Await(bg)
	}
	if bad > 0 {
		t.Errorf("ctx.Err()/context.Cause(ctx) read right after <-ctx.Done() were nil/wrong in %d of %d runs; want 0", bad, n)
	}
}
