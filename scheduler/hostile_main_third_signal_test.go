package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

// The child: one task that ignores its context for 3s (a blocking call).
func TestMainThirdSignalHelper(t *testing.T) {
	if os.Getenv("LAZYSCHED_HOSTILE_MAIN3") == "" {
		t.Skip("helper process")
	}
	os.Exit(scheduler.Main(func(ctx context.Context, s *scheduler.Scheduler) error {
		_, err := scheduler.Go(s, func(context.Context) error {
			fmt.Println("ready")
			time.Sleep(3 * time.Second) // the child's blocking call, not test synchronisation
			fmt.Println("task returned")
			return nil
		})
		return err
	}, time.Minute))
}

// After the second signal Main waits for a task that ignores its context;
// a third signal should still end the process (the default action), as
// it does for a program that never called signal.Notify. It is swallowed.
func TestMainThirdSignalEndsTheProcess(t *testing.T) {
	cmd, out, errs := startChildEnv(t, "LAZYSCHED_HOSTILE_MAIN3=1", "^TestMainThirdSignalHelper$")
	require.True(t, out.Scan())
	require.Equal(t, "ready", out.Text())
	var log []string
	for _, want := range []string{"draining", "canceling now"} {
		require.NoError(t, syscall.Kill(cmd.Process.Pid, syscall.SIGINT))
		acked := false
		for errs.Scan() {
			log = append(log, errs.Text())
			if strings.Contains(errs.Text(), want) {
				acked = true
				break
			}
		}
		require.True(t, acked, "never said %q", want)
	}
	require.NoError(t, syscall.Kill(cmd.Process.Pid, syscall.SIGINT))
	code, output := waitChild(t, cmd, out, errs, log)
	require.NotContains(t, output, "task returned", "the third signal was swallowed: Main waited for the task (exit %d)", code)
}
