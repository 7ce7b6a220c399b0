package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The demo in a real terminal emulator, tmux (a server of its own, on its
// own socket), at 120x40: it exits 0, and its whole scrollback shows each
// worker's and the fleet's status line once (redrawn in place, never
// scrolled), each event line once, the summary, and no line wrapped, cut or
// holding an escape sequence.
func TestDemoRedrawsInPlaceInTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not on PATH: the demo's terminal view is not checked in a real terminal (install tmux to check it)")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not on PATH: install it (apt-get install redis-server) to run the fleetdemo test")
	}
	const w, h = 120, 40
	ctx, cancel := context.WithTimeout(t.Context(), runFor)
	defer cancel()
	bin := buildDemo(t, ctx)
	dir := t.TempDir()
	conf := filepath.Join(dir, "tmux.conf")
	require.NoError(t, os.WriteFile(conf, []byte("set -g remain-on-exit on\nset -g status off\nset -g history-limit 50000\n"), 0o600))
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
	t.Cleanup(func() { _, _ = tm("kill-server") })
	_, err = tm("new-session", "-d", "-s", "fleet", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h),
		fmt.Sprintf("sh -c '%s -jobs 100 -kill-after 30; echo \"demo exited: $?\"'", bin))
	require.NoError(t, err, "tmux new-session")

	// Poll the pane until the demo has exited (the pane stays, dead).
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := tm("display-message", "-p", "-t", "fleet", "#{pane_dead}")
		require.NoError(t, err, "tmux display-message: %s", out)
		if strings.TrimSpace(out) == "1" {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			screen, _ := tm("capture-pane", "-p", "-t", "fleet")
			t.Fatalf("the demo has not exited within %v; its screen:\n%s", runFor, screen)
		}
	}
	history, err := tm("capture-pane", "-p", "-J", "-S", "-", "-t", "fleet")
	require.NoError(t, err, "capture-pane of the scrollback")
	t.Logf("the scrollback:\n%s", history)
	require.Contains(t, history, "demo exited: 0", "the demo's exit status")

	var lines []string
	for _, l := range strings.Split(strings.TrimRight(history, "\n"), "\n") {
		if !strings.HasPrefix(l, "Pane is dead") { // tmux's own line
			lines = append(lines, strings.TrimRight(l, " "))
		}
	}
	count := func(re string) int {
		r := regexp.MustCompile(re)
		n := 0
		for _, l := range lines {
			if r.MatchString(l) {
				n++
			}
		}
		return n
	}
	for _, re := range []string{
		`^worker 1  \[[#.]+\]  held`, `^worker 3  \[[#.]+\]  held`, `^worker 2  \[[#.x]+\]  killed by SIGKILL`,
		`^fleet     \[[#.]+\]  in use`,
		`^killed worker 2 \(pid \d+\) with SIGKILL`, `^worker 2's permits came back`,
		`^worker 1 finished: 100 of 100 jobs done`, `^worker 3 finished: 100 of 100 jobs done`,
		`^summary, after`, `^stopped redis-server$`,
	} {
		assert.Equal(t, 1, count(re), "lines matching %s", re)
	}
	for i, l := range lines {
		assert.LessOrEqual(t, utf8.RuneCountInString(l), w-1, "line %d wider than %d columns: %q", i, w-1, l)
		assert.NotContains(t, l, "\x1b", "line %d: an escape shows: %q", i, l)
	}
}
