package scheduler_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

// TestMainSecondSignalHelper is the child: fn, once interrupted, runs a
// cleanup that takes a while (it ignores the context, as a flush under
// Shield does). No task is left, so Main's drain ends at once.
func TestMainSecondSignalHelper(t *testing.T) {
	if os.Getenv("LAZYSCHED_HOSTILE_MAIN") == "" {
		t.Skip("helper process")
	}
	os.Exit(scheduler.Main(func(ctx context.Context, s *scheduler.Scheduler) error {
		fmt.Println("ready")
		<-ctx.Done()
		mainWaitsForFn()
		return scheduler.Shield(ctx, 0, func(context.Context) error {
			fmt.Println("cleaning up")
			time.Sleep(3 * time.Second) // the child's slow cleanup, not test synchronisation
			fmt.Println("cleanup done")
			return nil
		})
	}, time.Minute))
}

// A second signal while fn is still cleaning up is documented to cancel
// everything at once and to give ExitForced; it is swallowed instead.
func TestMainSecondSignalWhileFnCleansUpIsForced(t *testing.T) {
	cmd, out, errs := startChildEnv(t, "LAZYSCHED_HOSTILE_MAIN=1", "^TestMainSecondSignalHelper$")
	require.True(t, out.Scan())
	require.Equal(t, "ready", out.Text())
	require.NoError(t, syscall.Kill(cmd.Process.Pid, syscall.SIGINT))
	require.True(t, out.Scan())
	require.Equal(t, "cleaning up", out.Text())
	require.NoError(t, syscall.Kill(cmd.Process.Pid, syscall.SIGINT))
	start := time.Now()
	code, output := waitChild(t, cmd, out, errs, nil)
	took := time.Since(start)
	require.Equal(t, scheduler.ExitForced, code, "exit status after a second signal; output:\n%s", output)
	require.Contains(t, output, "canceling now")
	require.NotContains(t, output, "cleanup done", "Main waited %v for fn after the second signal", took)
}

func startChildEnv(t *testing.T, env, run string) (*exec.Cmd, *bufio.Scanner, *bufio.Scanner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+run, "-test.count=1")
	cmd.Env = append(os.Environ(), env)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	return cmd, bufio.NewScanner(stdout), bufio.NewScanner(stderr)
}

// mainWaitsForFn returns once Main's drain has ended (no goroutine is in
// Shutdown) and Main's goroutine is parked again, waiting on fn alone.
func mainWaitsForFn() {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		parked, shutting := false, false
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			if strings.Contains(g, "Shutdown(") {
				shutting = true
			}
			if strings.Contains(g, "scheduler.Main(") && (strings.Contains(g, "[chan receive") || strings.Contains(g, "[select")) {
				parked = true
			}
		}
		if parked && !shutting {
			return
		}
		runtime.Gosched()
	}
}
