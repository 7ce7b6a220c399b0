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

	"github.com/lazysched/lazysched/scheduler"
)

// TestMainHelperProcess is the child program of the signal tests: it runs
// scheduler.Main with one task that behaves as LAZYSCHED_MAIN_MODE says.
func TestMainHelperProcess(t *testing.T) {
	mode := os.Getenv("LAZYSCHED_MAIN_MODE")
	if mode == "" {
		t.Skip("helper process for the signal tests")
	}
	grace := time.Minute
	if mode == "expire" {
		grace = 50 * time.Millisecond
	}
	code := scheduler.Main(func(ctx context.Context, s *scheduler.Scheduler) error {
		_, err := scheduler.Go(s, func(tctx context.Context) error {
			fmt.Println("ready")
			switch mode {
			case "drain": // finishes when the program is asked to stop
				<-ctx.Done()
				fmt.Println("task drained")
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
		<-ctx.Done()
		return nil
	}, grace, scheduler.WithLimit(2))
	os.Exit(code)
}

func runSignalChild(t *testing.T, mode string, signals int) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMainHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LAZYSCHED_MAIN_MODE="+mode)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	out := bufio.NewScanner(stdout)
	require.True(t, out.Scan(), "child printed nothing")
	require.Equal(t, "ready", out.Text())
	errs := bufio.NewScanner(stderr)
	var log []string
	for i := range signals {
		require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
		// wait for the child's acknowledgement before the next signal
		want := "draining"
		if i == 1 {
			want = "canceling now"
		}
		for errs.Scan() {
			log = append(log, errs.Text())
			if strings.Contains(errs.Text(), want) {
				break
			}
		}
	}
	var rest []string
	for out.Scan() {
		rest = append(rest, out.Text())
	}
	for errs.Scan() {
		log = append(log, errs.Text())
	}
	err = cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return code, strings.Join(append(rest, log...), "\n")
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
