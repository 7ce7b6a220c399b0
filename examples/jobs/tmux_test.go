package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tmuxJobs is the number of jobs of each run in tmux: a few seconds here.
const tmuxJobs = 20_000

// TestDemoRedrawsInPlaceInTmux runs the built demo in a real terminal emulator, tmux, on
// a server of its own (its own socket), at 120x40 and 80x24, waits for it
// to exit by polling the pane, and reads the screen and the scrollback
// back: each status line must be there once (redrawn in place, never
// scrolled), no line cut or wrapped, and every kind of move shown.
func TestDemoRedrawsInPlaceInTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not on PATH: the demo's terminal mode is not checked in a real terminal (install tmux to check it)")
	}
	if testing.Short() {
		t.Skip("-short: the demo is not run in tmux")
	}
	goCmd, err := exec.LookPath("go") // go test puts its GOROOT/bin first on PATH
	require.NoError(t, err, "the go command, to build the demo")
	dir := t.TempDir()
	bin := filepath.Join(dir, "jobs")
	build := exec.Command(goCmd, "build", "-o", bin, ".")
	outb, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", outb)

	conf := filepath.Join(dir, "tmux.conf")
	require.NoError(t, os.WriteFile(conf, []byte(
		"set -g remain-on-exit on\nset -g status off\nset -g history-limit 50000\n"), 0o600))
	sock := filepath.Join(dir, "sock")
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TMUX=") { // not the tmux this test may run in
			env = append(env, kv)
		}
	}
	tm := func(args ...string) (string, error) {
		cmd := exec.Command(tmux, append([]string{"-S", sock, "-f", conf}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { _, _ = tm("kill-server") }) // the server this test started

	for _, size := range []struct{ w, h int }{{120, 40}, {80, 24}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			session := fmt.Sprintf("demo%d", size.w)
			// The shell prints the demo's exit status: tmux's own
			// pane_dead_status is empty on some versions.
			_, err := tm("new-session", "-d", "-s", session, "-x", strconv.Itoa(size.w), "-y", strconv.Itoa(size.h),
				fmt.Sprintf("sh -c '%s -jobs %d; echo \"demo exited: $?\"'", bin, tmuxJobs))
			require.NoError(t, err, "tmux new-session")

			waitForExit(t, tm, session, 90*time.Second)
			history, err := tm("capture-pane", "-p", "-J", "-S", "-", "-t", session)
			require.NoError(t, err, "capture-pane of the scrollback")
			screen, err := tm("capture-pane", "-p", "-t", session)
			require.NoError(t, err, "capture-pane of the screen")
			t.Logf("last screen at %dx%d:\n%s", size.w, size.h, screen)
			require.Contains(t, history, "demo exited: 0", "the demo's exit status\n%s", history)
			checkCapture(t, history, size.w)
			assert.Contains(t, screen, "summary: ", "the summary on the last screen")
			assert.Regexp(t, `(?m)^jobs   \[#+\]  100%`, screen, "the full jobs bar on the last screen")
		})
	}
}

// waitForExit polls the pane until the demo in it has exited (the pane
// stays, dead, as remain-on-exit says) and returns its exit status; it
// fails the test at the deadline.
func waitForExit(t *testing.T, tm func(...string) (string, error), session string, deadline time.Duration) string {
	t.Helper()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(deadline)
	for {
		out, err := tm("display-message", "-p", "-t", session, "#{pane_dead} #{pane_dead_status}")
		require.NoError(t, err, "tmux display-message: %s", out)
		if dead, status, _ := strings.Cut(strings.TrimSpace(out), " "); dead == "1" {
			return status
		}
		select {
		case <-tick.C:
		case <-timeout:
			screen, _ := tm("capture-pane", "-p", "-t", session)
			t.Fatalf("the demo has not exited after %v; its screen:\n%s", deadline, screen)
		}
	}
}

// checkCapture checks the whole scrollback of a finished demo at width w,
// captured with wrapped lines joined.
func checkCapture(t *testing.T, history string, w int) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(history, "\n"), "\n") {
		if !strings.HasPrefix(l, "Pane is dead") { // tmux's own line
			lines = append(lines, strings.TrimRight(l, " "))
		}
	}
	text := strings.Join(lines, "\n")
	// Redrawn in place: one copy of each status line in all the scrollback.
	for _, re := range []string{
		`^jobs   \[#+\]  100%  \d+ of \d+ ended$`,
		`^slots  \[\.+\]  0 of 16 in use$`,
		`^ +ok \d+  failed \d+  canceled \d+$`,
		`^ +queued 0  running 0  over-cap 0 +\d+\.\ds$`,
	} {
		assert.Equal(t, 1, count(lines, re), "lines matching %s\n%s", re, text)
	}
	assert.Equal(t, 1, count(lines, `^jobs `), "jobs bars in the scrollback")
	assert.Equal(t, 1, count(lines, `^slots `), "slots bars in the scrollback")
	// Nothing cut, nothing wrapped (a joined line would be wider), no
	// escape left over.
	for i, l := range lines {
		assert.LessOrEqual(t, utf8.RuneCountInString(l), w-1, "line %d wider than %d columns: %q", i, w-1, l)
		assert.NotContains(t, l, "…", "line %d is cut: %q", i, l)
		assert.NotContains(t, l, "\x1b", "line %d: an escape shows: %q", i, l)
	}
	// Every kind of move, as it happened, and the end of the moved jobs.
	milestonesSeen := len(milestones)
	for re, want := range map[string]int{
		`  force-run  job-\d+ +s\.Force\(h\): runs now, over the cap$`:           milestonesSeen * ((forcesPerStep + 1) / 2),
		`  force-run  job-\d+ +h\.Start\(\): runs now, over the cap$`:            milestonesSeen * (forcesPerStep / 2),
		`  force-run  hotfix-\d\.\d +NewTask, s\.Force: a lazy job runs now$`:    milestonesSeen * lazyPerStep,
		`  promote    job-\d+ +s\.Promote\(h\): to the front of \d+ queued$`:     milestonesSeen * promotesPerStep,
		`  cancel     job-\d+ +h\.Cancel: canceled while queued, never runs$`:    milestonesSeen * cancelsPerStep,
		`  submit     urgent-\d\.\d +priority 10: ahead of the priority 0 jobs$`: milestonesSeen * urgentPerStep,
		`  awaited    urgent-\d\.\d +(succeeded|failed): \S+ in queue, ran \S+$`: milestonesSeen * urgentPerStep,
	} {
		assert.Equal(t, want, count(lines, re), "lines matching %s\n%s", re, text)
	}
	m := regexp.MustCompile(`the display saw over-cap (\d+)`).FindStringSubmatch(text)
	if assert.NotNil(t, m, "the summary's over-cap line\n%s", text) {
		n, _ := strconv.Atoi(m[1])
		assert.Positive(t, n, "the over-cap counter moved while force-runs ran")
	}
}
