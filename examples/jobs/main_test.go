package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func smallConfig() config {
	cfg := defaultConfig()
	cfg.Jobs, cfg.Limit, cfg.Seed = 2000, 4, 7
	cfg.Mean, cfg.Longest = 500*time.Microsecond, 5*time.Millisecond
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

	assert.Positive(t, sum.QueueP50, "queue time p50")
	assert.GreaterOrEqual(t, sum.QueueP99, sum.QueueP50, "queue time p99")
	assert.GreaterOrEqual(t, sum.RunP99, sum.RunP50, "run time p99")
	assert.GreaterOrEqual(t, sum.RunP50, 10*time.Microsecond, "run time p50")

	assert.Contains(t, out.String(), "summary: ")
	assert.Contains(t, out.String(), "peak running ")
	assert.NotContains(t, out.String(), "\x1b[", "plain output has no terminal escapes")
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

func TestRunDrawsBarsOnATerminal(t *testing.T) {
	cfg := smallConfig()
	cfg.Jobs, cfg.Terminal = 500, true
	var out bytes.Buffer
	sum, err := run(t.Context(), cfg, &out)
	require.NoError(t, err)
	assert.Equal(t, sum.Jobs, sum.Succeeded+sum.Failed+sum.Canceled, "succeeded+failed+canceled")
	assert.Contains(t, out.String(), "jobs ")
	assert.Contains(t, out.String(), "slots ")
	assert.Contains(t, out.String(), "summary: ")
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
