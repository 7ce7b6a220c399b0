// Command jobs runs 100,000 simulated jobs under a concurrency cap with
// lazysched, shows live progress, and exercises the three moves while the
// jobs run: force-run, promote and cancel queued jobs, and submit a few with
// a higher priority. It ends with a summary of states, timings and the peak
// number of jobs running at once.
//
//	go run ./jobs -jobs 100000 -limit 16 -seed 1
//
// Each move is printed as a line when it is made, and so is the end of
// every job the operator moved or added: its state, time in queue and run
// time, read from its handle. A force-run job works for at least -forced,
// so that the over-cap counter can be seen to move. On a terminal, two bars
// and their counters are redrawn in place under the moves; otherwise
// (piped to a file or to cat) the counters are one plain line per second.
//
// The first Ctrl-C (or SIGTERM) shuts the scheduler down gracefully: no more
// jobs are submitted or moved, and the queued and running ones may finish for
// a grace period (-grace), after which the rest are canceled. A second Ctrl-C
// cancels everything at once. The summary is printed either way.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/term"
)

// config is what one run of the demo does.
type config struct {
	Jobs     int           // simulated jobs submitted up front
	Limit    int           // the scheduler's cap
	Seed     uint64        // seed of the job lengths and failures
	Mean     time.Duration // mean job length (log-normal)
	Longest  time.Duration // no job is longer
	FailRate float64       // share of jobs that fail
	Forced   time.Duration // a job force-run over the cap works at least this long
	Terminal bool          // redraw bars in place rather than print plain lines
	Width    func() int    // the terminal's columns now (0: unknown, take 80)
	Every    time.Duration // period of the plain progress lines
	Grace    time.Duration // how long a graceful shutdown lets jobs finish
	// Drain, when closed, starts a graceful shutdown (the first Ctrl-C);
	// the ctx given to run ending cancels everything (the second).
	Drain <-chan struct{}
}

func defaultConfig() config {
	return config{
		Jobs:     100_000,
		Limit:    16,
		Seed:     1,
		Mean:     time.Millisecond,
		Longest:  20 * time.Millisecond,
		FailRate: 0.02,
		Forced:   1500 * time.Millisecond,
		Every:    time.Second,
		Grace:    3 * time.Second,
	}
}

func main() {
	cfg := defaultConfig()
	flag.IntVar(&cfg.Jobs, "jobs", cfg.Jobs, "number of simulated jobs")
	flag.IntVar(&cfg.Limit, "limit", cfg.Limit, "concurrency cap")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed for job lengths and failures")
	flag.DurationVar(&cfg.Mean, "mean", cfg.Mean, "mean job length")
	flag.Float64Var(&cfg.FailRate, "fail", cfg.FailRate, "share of jobs that fail")
	flag.DurationVar(&cfg.Forced, "forced", cfg.Forced, "least run time of a job force-run over the cap")
	flag.DurationVar(&cfg.Grace, "grace", cfg.Grace, "grace period of the shutdown after the first Ctrl-C")
	flag.Parse()
	fd := int(os.Stdout.Fd())
	cfg.Terminal = term.IsTerminal(fd)
	cfg.Width = func() int {
		w, _, err := term.GetSize(fd) // an ioctl: cheap, and follows resizes
		if err != nil {
			return 0
		}
		return w
	}

	// First Ctrl-C: drain gracefully; second: cancel at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	drain := make(chan struct{})
	cfg.Drain = drain
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sigs
		close(drain)
		<-sigs
		cancel()
	}()
	_, err := run(ctx, cfg, os.Stdout)
	signal.Stop(sigs)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "jobs:", err)
		os.Exit(1)
	}
}
