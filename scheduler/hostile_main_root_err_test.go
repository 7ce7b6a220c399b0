package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

func TestMainRootErrHelper(t *testing.T) {
	if os.Getenv("LAZYSCHED_HOSTILE_ROOTERR") == "" {
		t.Skip("helper process")
	}
	os.Exit(scheduler.Main(func(ctx context.Context, s *scheduler.Scheduler) error {
		h, err := scheduler.Go(s, func(context.Context) error { return errors.New("boom") })
		if err != nil {
			return err
		}
		_ = h.Wait(context.Background())
		fmt.Println("ready")
		<-ctx.Done()
		return nil
	}, time.Minute, scheduler.FailFast()))
}

// A fail-fast root's error from before the signal: exit status and message.
func TestMainSignalAfterRootFailedReportsIt(t *testing.T) {
	cmd, out, errs := startChildEnv(t, "LAZYSCHED_HOSTILE_ROOTERR=1", "^TestMainRootErrHelper$")
	require.True(t, out.Scan())
	require.Equal(t, "ready", out.Text())
	require.NoError(t, syscall.Kill(cmd.Process.Pid, syscall.SIGINT))
	code, output := waitChild(t, cmd, out, errs, nil)
	t.Logf("exit %d; output:\n%s", code, output)
	require.Contains(t, output, "boom", "the root's error is reported")
}
