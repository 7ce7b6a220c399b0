package main

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lazysched/lazysched/scheduler"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func smallConfig() config {
	cfg := defaultConfig()
	cfg.Jobs, cfg.Limit, cfg.Seed = 2000, 4, 7
	cfg.Mean, cfg.Longest = 500*time.Microsecond, 5*time.Millisecond
	cfg.Forced = 200 * time.Millisecond
	return cfg
}

func TestRunAccountsForEveryJob(t *testing.T) {
	cfg := smallConfig()
	var out bytes.Buffer
	sum, err := run(t.Context(), cfg, &out)
	require.NoError(t, err, "run(%+v)\n%s", cfg, out.String())

	extra := len(milestones) * (lazyPerStep + urgentPerStep)
	assert.Equal(t, cfg.Jobs+extra, sum.Jobs, "jobs awaited")
	assert.Equal(t, sum.Jobs, sum.Succeeded+sum.Failed+sum.Canceled, "succeeded+failed+canceled")
	assert.Equal(t, uint64(sum.Jobs), sum.Stats.Submitted, "Stats().Submitted")
	assert.Positive(t, sum.Failed, "failed jobs (2%% of %d)", cfg.Jobs)
	assert.GreaterOrEqual(t, sum.Canceled, sum.Cancels, "canceled jobs")

	assert.Positive(t, sum.ForceRuns, "force-runs")
	assert.Positive(t, sum.Promotes, "promotes")
	assert.Positive(t, sum.Cancels, "cancels")
	assert.Equal(t, uint64(sum.ForceRuns), sum.Stats.ForceRuns, "Stats().ForceRuns")
	assert.Equal(t, uint64(sum.Promotes), sum.Stats.Promoted, "Stats().Promoted")

	assert.LessOrEqual(t, sum.PeakUnderCap, cfg.Limit, "peak running under the cap")
	assert.LessOrEqual(t, sum.PeakRunning, cfg.Limit+sum.ForceRuns, "peak running; want <= cap + over-cap runs")
	assert.Equal(t, cfg.Limit, sum.PeakUnderCap, "peak running under the cap; want the cap filled")
	assert.LessOrEqual(t, sum.PeakSampled, cfg.Limit+sum.ForceRuns, "peak Stats().Running")
	// The forced jobs of a milestone run at the same time, for cfg.Forced.
	assert.Positive(t, sum.PeakOverCap, "peak running over the cap")
	assert.LessOrEqual(t, sum.PeakOverCap, sum.ForceRuns, "peak running over the cap")

	assert.Positive(t, sum.QueueP50, "queue time p50")
	assert.GreaterOrEqual(t, sum.QueueP99, sum.QueueP50, "queue time p99")
	assert.GreaterOrEqual(t, sum.RunP99, sum.RunP50, "run time p99")
	assert.GreaterOrEqual(t, sum.RunP50, 10*time.Microsecond, "run time p50")

	assert.Contains(t, out.String(), "summary: ")
	assert.Contains(t, out.String(), "at most ")
	assert.NotContains(t, out.String(), "\x1b[", "plain output has no terminal escapes")
	// Every move and every end of a moved job is a line.
	for _, move := range []string{"force-run", "promote", "cancel", "submit", "awaited"} {
		assert.Contains(t, out.String(), "  "+move+" ", "a %s line", move)
	}
	assert.Regexp(t, `awaited +urgent-\d\.\d +(succeeded|failed): \S+ in queue, ran \S+`, out.String())
}

// The same seed draws the same jobs, of mean length about cfg.Mean, a few
// of them long, none longer than cfg.Longest.
func TestSpecsAreRepeatableAndLogNormal(t *testing.T) {
	cfg := defaultConfig()
	a, b := newSpecs(cfg), newSpecs(cfg)
	var total, longest time.Duration
	fails, long := 0, 0
	const n = 100_000
	for i := range n {
		x, y := a.next(), b.next()
		require.Equal(t, x, y, "job %d with seed %d", i, cfg.Seed)
		total += x.d
		longest = max(longest, x.d)
		if x.fail {
			fails++
		}
		if x.d >= 10*time.Millisecond {
			long++
		}
	}
	mean := total / n
	assert.InDelta(t, float64(cfg.Mean), float64(mean), 0.1*float64(cfg.Mean), "mean length = %v; want about %v", mean, cfg.Mean)
	assert.LessOrEqual(t, longest, cfg.Longest, "longest job")
	assert.Positive(t, long, "jobs of 10ms or more")
	assert.InDelta(t, cfg.FailRate*n, float64(fails), 0.2*cfg.FailRate*n, "failing jobs")
}

// A run whose context has ended (Ctrl-C) cancels what is left, and still
// accounts for every job.
func TestRunCancelsWhatIsLeftWhenContextEnds(t *testing.T) {
	cfg := smallConfig()
	cfg.Jobs = 20_000
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out bytes.Buffer
	sum, err := run(ctx, cfg, &out)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, sum.Jobs, sum.Succeeded+sum.Failed+sum.Canceled, "succeeded+failed+canceled")
	assert.Greater(t, sum.Canceled, cfg.Jobs/2, "canceled jobs")
	assert.Contains(t, out.String(), "summary: ")
}

// On a terminal the status lines are redrawn in place: replayed on a
// screen, the output leaves one copy of each, under every move in order,
// and no line is wider than the terminal.
func TestRunDrawsBarsOnATerminal(t *testing.T) {
	cfg := smallConfig()
	cfg.Jobs, cfg.Terminal = 500, true
	cfg.Width = func() int { return 80 }
	var out bytes.Buffer
	sum, err := run(t.Context(), cfg, &out)
	require.NoError(t, err)
	assert.Equal(t, sum.Jobs, sum.Succeeded+sum.Failed+sum.Canceled, "succeeded+failed+canceled")
	assert.Contains(t, out.String(), "\x1b[4A\r", "the status lines are redrawn")

	screen := replay(t, out.String())
	text := strings.Join(screen, "\n")
	assert.Equal(t, 1, count(screen, `^jobs   \[#+\]  100%  \d+ of \d+ ended$`), "the jobs bar, full\n%s", text)
	assert.Equal(t, 1, count(screen, `^slots  \[\.+\]  0 of 4 in use$`), "the slots bar, empty\n%s", text)
	assert.Equal(t, 1, count(screen, `^ +ok \d+  failed \d+  canceled \d+$`), "the end counters\n%s", text)
	assert.Equal(t, 1, count(screen, `^ +queued 0  running 0  over-cap 0 +\d+\.\ds$`), "the now counters\n%s", text)
	assert.Equal(t, len(milestones)*forcesPerStep+len(milestones)*lazyPerStep, count(screen, `  force-run  `), "force-run lines\n%s", text)
	assert.Positive(t, count(screen, `  awaited    hotfix-\d\.\d +succeeded: \S+ in queue, ran \S+`), "awaited lines\n%s", text)
	for i, l := range screen {
		assert.LessOrEqual(t, utf8.RuneCountInString(l), 79, "line %d: %q", i, l)
		assert.NotContains(t, l, "…", "line %d is cut", i)
	}
	assert.Less(t, slices.IndexFunc(screen, func(l string) bool { return strings.Contains(l, "awaited") }),
		slices.IndexFunc(screen, func(l string) bool { return strings.HasPrefix(l, "jobs   [") }), "moves above the bars")
	assert.Regexp(t, `^ +force-runs \d+  promoted \d+  \(the scheduler's own counters\)$`, screen[len(screen)-1], "the summary last")
}

// The status lines fit in 79 columns from 80 up with the demo's largest
// counts, and a wider terminal gets a wider bar.
func TestStatusLinesFitTheWidth(t *testing.T) {
	st := scheduler.Stats{Limit: 16, InUse: 16, Queued: 999_999, Running: 26, OverCap: 10,
		Submitted: 1_000_000, Succeeded: 980_000, Failed: 19_999, Canceled: 1_000}
	prev := 0
	for _, w := range []int{80, 100, 120, 220} {
		lines := statusLines(st, 59*time.Second, w)
		require.Len(t, lines, 4)
		for _, l := range lines {
			assert.LessOrEqual(t, len(l), min(w-1, 79+barMax), "width %d: %q", w, l)
		}
		assert.Equal(t, lines[0], string(fit(lines[0], w)), "width %d: the jobs line is not cut", w)
		bw := strings.Index(lines[0], "]") - strings.Index(lines[0], "[") - 1
		assert.GreaterOrEqual(t, bw, min(prev+1, barMax), "bar at width %d", w)
		prev = bw
		assert.Contains(t, lines[2], "[################]++++++++++  16 of 16 in use, 10 over the cap")
	}
	assert.Equal(t, "abcdefgh…", string(fit("abcdefghijk", 10)), "a line cut to 9 columns")
}

// replay plays out on a screen of unbounded height the few sequences the
// terminal display writes (cursor up, carriage return, clear to the end
// of the screen, hide and show the cursor) and returns the screen's
// lines. Any other sequence fails the test.
func replay(t *testing.T, s string) []string {
	t.Helper()
	var screen [][]rune
	row, col := 0, 0
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "\x1b["):
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			require.Less(t, j, len(s), "unterminated escape at %d", i)
			param, final := s[i+2:j], s[j]
			switch {
			case final == 'A':
				n, err := strconv.Atoi(param)
				require.NoError(t, err, "cursor up %q", param)
				row = max(row-n, 0)
			case final == 'J' && param == "":
				if row < len(screen) {
					screen[row] = screen[row][:min(col, len(screen[row]))]
					screen = screen[:row+1]
				}
			case param == "?25" && (final == 'l' || final == 'h'):
			default:
				t.Fatalf("unexpected sequence %q at %d", s[i:j+1], i)
			}
			i = j + 1
		case s[i] == '\r':
			col, i = 0, i+1
		case s[i] == '\n':
			row, col, i = row+1, 0, i+1
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			for len(screen) <= row {
				screen = append(screen, nil)
			}
			for len(screen[row]) <= col {
				screen[row] = append(screen[row], ' ')
			}
			screen[row][col] = r
			col, i = col+1, i+n
		}
	}
	lines := make([]string, len(screen))
	for i, l := range screen {
		lines[i] = strings.TrimRight(string(l), " ")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// count returns the number of lines that match the regular expression re.
func count(lines []string, re string) int {
	rx := regexp.MustCompile(re)
	n := 0
	for _, l := range lines {
		if rx.MatchString(l) {
			n++
		}
	}
	return n
}

// The first interrupt drains: nothing is lost, every job ends, those still
// queued when the grace period ends are canceled, and run says it was
// interrupted.
func TestRunDrainsGracefullyOnTheFirstInterrupt(t *testing.T) {
	cfg := smallConfig()
	cfg.Jobs = 20000
	cfg.Grace = 0 // the grace period ends at once: the queue is canceled
	drain := make(chan struct{})
	close(drain)
	cfg.Drain = drain
	var out bytes.Buffer
	sum, err := run(t.Context(), cfg, &out)
	require.ErrorIs(t, err, errInterrupted, "run with Drain closed\n%s", out.String())
	assert.Equal(t, sum.Jobs, sum.Succeeded+sum.Failed+sum.Canceled, "succeeded+failed+canceled")
	assert.Positive(t, sum.Canceled, "jobs canceled when the grace period ended")
	assert.Zero(t, sum.Stats.Running+sum.Stats.Queued+sum.Stats.InUse, "running+queued+in use after the drain")
	assert.Contains(t, out.String(), "interrupt: draining")
}
