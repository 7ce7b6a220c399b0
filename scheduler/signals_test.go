package scheduler_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// TestMainHelperProcess is the child program of the signal tests: it runs
// scheduler.Main with one task that behaves as LAZYSCHED_MAIN_MODE says.
// In the "after-" modes fn returns while the task still runs, and "ready"
// is printed once Main is shutting the scheduler down (it cancels a lazy
// task then), so that the parent's signal comes after fn's return.
func TestMainHelperProcess(t *testing.T) {
	mode := os.Getenv("LAZYSCHED_MAIN_MODE")
	if mode == "" {
		t.Skip("helper process for the signal tests")
	}
	if mode == "nil" {
		os.Exit(scheduler.Main(nil, time.Minute))
	}
	grace := time.Minute
	if mode == "expire" || mode == "after-expire" {
		grace = 50 * time.Millisecond
	}
	after := strings.HasPrefix(mode, "after-")
	code := scheduler.Main(func(ctx context.Context, s *scheduler.Scheduler) error {
		running := make(chan struct{})
		_, err := scheduler.Go(s, func(tctx context.Context) error {
			if !after {
				fmt.Println("ready")
			}
			close(running)
			switch mode {
			case "drain", "after-drain", "after-fail": // finishes when the program is asked to stop
				<-ctx.Done()
				fmt.Println("task drained:", context.Cause(ctx))
				return nil
			default: // runs until its own context is canceled
				<-tctx.Done()
				fmt.Println("task canceled:", context.Cause(tctx))
				return context.Cause(tctx)
			}
		})
		if err != nil {
			return err
		}
		if !after {
			<-ctx.Done()
			return nil
		}
		<-running
		lazy := scheduler.NewTask(s, func(context.Context) (struct{}, error) { return struct{}{}, nil })
		lazy.OnDone(func(struct{}, error) { fmt.Println("ready") })
		if mode == "after-fail" {
			return errors.New("fn failed")
		}
		return nil
	}, grace, scheduler.WithLimit(2))
	os.Exit(code)
}

// startChild runs TestMainHelperProcess in mode; the child is killed if it
// still runs after a bound that a passing test never reaches.
func startChild(t *testing.T, mode string) (*exec.Cmd, *bufio.Scanner, *bufio.Scanner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMainHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LAZYSCHED_MAIN_MODE="+mode)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	return cmd, bufio.NewScanner(stdout), bufio.NewScanner(stderr)
}

// waitChild reads the rest of the child's output and returns its exit
// status with its output, stdout first.
func waitChild(t *testing.T, cmd *exec.Cmd, out, errs *bufio.Scanner, log []string) (int, string) {
	t.Helper()
	var rest []string
	for out.Scan() {
		rest = append(rest, out.Text())
	}
	for errs.Scan() {
		log = append(log, errs.Text())
	}
	err := cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return code, strings.Join(append(rest, log...), "\n")
}

func runSignalChild(t *testing.T, mode string, signals int) (int, string) {
	t.Helper()
	cmd, out, errs := startChild(t, mode)
	require.True(t, out.Scan(), "child printed nothing")
	require.Equal(t, "ready", out.Text())
	var log []string
	for i := range signals {
		require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
		// wait for the child's acknowledgement before the next signal
		want := "draining"
		if i == 1 {
			want = "canceling now"
		}
		acked := false
		for errs.Scan() {
			log = append(log, errs.Text())
			if strings.Contains(errs.Text(), want) {
				acked = true
				break
			}
		}
		require.True(t, acked, "signal %d: the child never said %q; stderr:\n%s", i+1, want, strings.Join(log, "\n"))
	}
	return waitChild(t, cmd, out, errs, log)
}

func TestMainFirstSignalDrainsGracefully(t *testing.T) {
	code, out := runSignalChild(t, "drain", 1)
	require.Equal(t, scheduler.ExitInterrupted, code, "exit status; output:\n%s", out)
	require.Contains(t, out, "task drained")
}

func TestMainSecondSignalCancelsAtOnce(t *testing.T) {
	code, out := runSignalChild(t, "hold", 2)
	require.Equal(t, scheduler.ExitForced, code, "exit status; output:\n%s", out)
	require.Contains(t, out, "task canceled: scheduler: closed")
}

func TestMainGraceExpiryCancelsTheRest(t *testing.T) {
	code, out := runSignalChild(t, "expire", 1)
	require.Equal(t, scheduler.ExitGraceExpired, code, "exit status; output:\n%s", out)
	require.Contains(t, out, "task canceled: scheduler: closed")
}

func TestMainSignalAfterFnReturnedDrainsTheRemainingTasks(t *testing.T) {
	code, out := runSignalChild(t, "after-drain", 1)
	require.Equal(t, scheduler.ExitInterrupted, code, "exit status; output:\n%s", out)
	require.Contains(t, out, "task drained: "+scheduler.ErrInterrupted.Error(), "the task saw fn's context canceled")
}

func TestMainGraceExpiryAfterFnReturnedCancelsTheRest(t *testing.T) {
	code, out := runSignalChild(t, "after-expire", 1)
	require.Equal(t, scheduler.ExitGraceExpired, code, "exit status; output:\n%s", out)
	require.Contains(t, out, "task canceled: scheduler: closed")
}

func TestMainSecondSignalAfterFnReturnedCancelsAtOnce(t *testing.T) {
	code, out := runSignalChild(t, "after-hold", 2)
	require.Equal(t, scheduler.ExitForced, code, "exit status; output:\n%s", out)
	require.Contains(t, out, "task canceled: scheduler: closed")
}

func TestMainSignalAfterFnFailedDrainsAndExitsFailed(t *testing.T) {
	code, out := runSignalChild(t, "after-fail", 1)
	require.Equal(t, scheduler.ExitFailed, code, "exit status; output:\n%s", out)
	require.Contains(t, out, "task drained: "+scheduler.ErrInterrupted.Error(), "the task saw fn's context canceled")
	require.Contains(t, out, "lazysched: fn failed", "fn's error reported")
}

func TestMainWithANilFuncReportsErrNilFunc(t *testing.T) {
	cmd, out, errs := startChild(t, "nil")
	code, output := waitChild(t, cmd, out, errs, nil)
	require.Equal(t, scheduler.ExitFailed, code, "exit status; output:\n%s", output)
	require.Contains(t, output, "lazysched: "+lazytask.ErrNilFunc.Error(), "the message on stderr")
}
