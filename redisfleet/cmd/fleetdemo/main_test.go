package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// runFor bounds a run of the demo, its build included.
const runFor = 3 * time.Minute

// buildDemo builds this command into a temporary directory (with the race
// detector when the test has it) and returns the binary's path.
func buildDemo(t *testing.T, ctx context.Context) string {
	t.Helper()
	goCmd, err := exec.LookPath("go") // go test puts its GOROOT/bin first on PATH
	require.NoError(t, err, "the go command")
	bin := filepath.Join(t.TempDir(), "fleetdemo")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.CommandContext(ctx, goCmd, append(args, ".")...).CombinedOutput()
	require.NoError(t, err, "go build:\n%s", out)
	return bin
}

// run runs the demo binary with args and env until it ends (or ctx does:
// then it gets SIGTERM, which makes it stop its workers and its Redis).
func run(ctx context.Context, bin string, env []string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// The demo, run as `make demo-fleet` runs it but in plain mode: it exits
// 0; the worker it kills held permits then; those permits come back to the
// fleet once their leases expire (within a lease and the other Limits'
// re-check, lease/2, with a second of slack), not at once; the fleet never
// goes over its cap of 8; and the two other workers do all their jobs.
func TestDemoKillsAWorkerAndItsPermitsComeBack(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not on PATH: install it (apt-get install redis-server) to run the fleetdemo test")
	}
	const lease, limit, jobs = 2 * time.Second, 8, 150
	ctx, cancel := context.WithTimeout(t.Context(), runFor)
	defer cancel()
	bin := buildDemo(t, ctx)
	stdout, stderr, err := run(ctx, bin, os.Environ(), "-plain", "-lease", lease.String(),
		"-limit", strconv.Itoa(limit), "-jobs", strconv.Itoa(jobs), "-workers", "3", "-victim", "2", "-kill-after", "40")
	t.Logf("the demo's output:\n%s", stdout)
	require.NoError(t, err, "the demo's exit; stderr:\n%s", stderr)
	assert.Empty(t, stderr, "the demo's stderr")
	assert.NotContains(t, stdout, "\x1b[", "plain mode writes no ANSI sequences")

	m := regexp.MustCompile(`(?m)^killed worker 2 \(pid \d+\) with SIGKILL at t=[\d.]+s: it had done (\d+) jobs and held (\d+) permits?`).FindStringSubmatch(stdout)
	require.NotNil(t, m, "the line of the kill")
	assert.GreaterOrEqual(t, atoi(t, m[1]), 40, "jobs the victim had done when it was killed")
	assert.Positive(t, atoi(t, m[2]), "permits the victim held when it was killed")

	assert.Regexp(t, `(?m)^worker 2's permits came back [\d.]+s after the kill`, stdout)
	m = regexp.MustCompile(`(?m)^  recovery after kill -9: ([\d.]+)s \(lease 2s\)$`).FindStringSubmatch(stdout)
	require.NotNil(t, m, "the summary's recovery time")
	rec := seconds(t, m[1])
	t.Logf("recovery after kill -9: %v (lease %v)", rec, lease)
	assert.Less(t, rec, lease+lease/2+time.Second, "recovery after the kill")
	// Nobody gave them back: they lasted until their leases expired, and
	// the victim had renewed them at most lease/3 before it died.
	assert.Greater(t, rec, lease/3, "recovery after the kill")

	m = regexp.MustCompile(`(?m)^  the other workers held all 8 slots: ([\d.]+)s after the kill$`).FindStringSubmatch(stdout)
	require.NotNil(t, m, "the summary's line on the other workers taking all 8 slots")
	assert.Less(t, seconds(t, m[1]), lease+lease/2+time.Second, "the other workers holding all 8 slots, after the kill")

	m = regexp.MustCompile(`(?m)^  peak fleet-wide in use: (\d+) of cap 8 `).FindStringSubmatch(stdout)
	require.NotNil(t, m, "the summary's peak")
	assert.LessOrEqual(t, atoi(t, m[1]), limit, "peak fleet-wide in use")
	assert.Positive(t, atoi(t, m[1]), "peak fleet-wide in use")

	for _, w := range []string{"1", "3"} {
		assert.Regexp(t, `(?m)^  worker `+w+`: 150 of 150 jobs done, 0 lost$`, stdout, "worker %s's summary", w)
		assert.Regexp(t, `(?m)^worker `+w+` finished: 150 of 150 jobs done`, stdout, "worker %s's end", w)
	}
	assert.Regexp(t, `(?m)^  worker 2: killed with SIGKILL after \d+ jobs done, holding [1-8] permits?$`, stdout)
	assert.True(t, strings.HasSuffix(stdout, "stopped redis-server\n"), "the demo's last line")
}

// Without redis-server on PATH the demo says so in one line and exits 1.
func TestDemoWithoutRedisServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), runFor)
	defer cancel()
	bin := buildDemo(t, ctx)
	env := []string{"PATH=" + t.TempDir(), "HOME=" + t.TempDir()}
	stdout, stderr, err := run(ctx, bin, env, "-plain")
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "the demo's exit: %v", err)
	assert.Equal(t, 1, exit.ExitCode(), "the demo's exit status")
	assert.Empty(t, stdout, "the demo's stdout")
	assert.Equal(t, "redis-server is not on PATH: install it (apt-get install redis-server) to run this demo\n", stderr)
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

func seconds(t *testing.T, s string) time.Duration {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return time.Duration(f * float64(time.Second))
}
