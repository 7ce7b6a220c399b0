// Command fleetdemo shows a cap shared by a whole fleet of processes
// ([redisfleet.Limit]) at work, and what happens when one process of the
// fleet is killed with SIGKILL while it holds permits.
//
// It starts a redis-server of its own (on 127.0.0.1, on a free port, with
// nothing saved to disk), then three worker processes: itself, run again
// with -worker. Each worker runs a lazysched scheduler with a local cap of
// 8 over one fleet-wide redisfleet.Limit of 8 slots (lease 2s), and works
// through 150 simulated jobs of 50ms to 250ms each, reporting its state on
// its stdout every 100ms. The parent draws one line per worker (a bar of
// the permits it holds) and the fleet's slots in use as Redis counts them,
// kills one worker with SIGKILL once it has done 40 jobs, says when that
// worker's permits have come back to the fleet (their leases expired: no
// one gave them back), waits for the other workers to finish, and prints a
// summary. Then it stops its redis-server.
//
// On a terminal the view is redrawn in place; with -plain, or when stdout
// is not a terminal, it prints plain progress lines instead. Run it with
// `make demo-fleet` from the repository's root. It needs redis-server on
// PATH.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

// config is the demo's settings, from its flags; the parent passes them on
// to its workers.
type config struct {
	workers   int           // worker processes
	jobs      int           // jobs per worker
	limit     int           // the fleet's cap, and each worker's local cap
	lease     time.Duration // of a permit
	killAfter int           // jobs the victim has done when it is killed
	victim    int           // the worker killed, 1-based
	minJob    time.Duration // shortest job
	maxJob    time.Duration // longest job
	plain     bool          // plain lines, not a view redrawn in place
	timeout   time.Duration // the whole demo gives up after this
	name      string        // of the fleet's limit in Redis

	// Of a worker process only:
	worker int    // its number, 1-based; 0 in the parent
	addr   string // the parent's redis-server
}

func main() {
	cfg := config{name: "demo"}
	flag.IntVar(&cfg.workers, "workers", 3, "number of worker processes")
	flag.IntVar(&cfg.jobs, "jobs", 150, "simulated jobs per worker")
	flag.IntVar(&cfg.limit, "limit", 8, "the fleet-wide cap (and each worker's local cap)")
	flag.DurationVar(&cfg.lease, "lease", 2*time.Second, "lease of a permit: how long a dead worker's permits stay counted")
	flag.IntVar(&cfg.killAfter, "kill-after", 40, "jobs the victim has done when it is killed with SIGKILL")
	flag.IntVar(&cfg.victim, "victim", 2, "the worker killed with SIGKILL (1-based; 0: none)")
	flag.DurationVar(&cfg.minJob, "min-job", 50*time.Millisecond, "shortest simulated job")
	flag.DurationVar(&cfg.maxJob, "max-job", 250*time.Millisecond, "longest simulated job")
	flag.BoolVar(&cfg.plain, "plain", false, "print plain progress lines instead of redrawing the view")
	flag.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "give up (exit 1) after this long")
	flag.IntVar(&cfg.worker, "worker", 0, "internal: run as worker number N of the parent")
	flag.StringVar(&cfg.addr, "redis", "", "internal: the Redis address of a worker")
	flag.Parse()
	if err := cfg.check(); err != nil {
		fmt.Fprintln(os.Stderr, "fleetdemo:", err)
		os.Exit(2)
	}
	if cfg.worker > 0 {
		os.Exit(runWorker(cfg))
	}
	if !cfg.plain && !isTerminal(os.Stdout) {
		cfg.plain = true
	}
	os.Exit(runParent(cfg, os.Stdout, os.Stderr))
}

// check refuses settings the demo cannot run with.
func (c config) check() error {
	switch {
	case c.workers < 1:
		return fmt.Errorf("-workers %d: want at least 1", c.workers)
	case c.jobs < 1:
		return fmt.Errorf("-jobs %d: want at least 1", c.jobs)
	case c.limit < 1:
		return fmt.Errorf("-limit %d: want at least 1", c.limit)
	case c.lease < 50*time.Millisecond:
		return fmt.Errorf("-lease %v: want at least 50ms", c.lease)
	case c.victim < 0 || c.victim > c.workers:
		return fmt.Errorf("-victim %d: want 0 to %d", c.victim, c.workers)
	case c.victim > 0 && (c.killAfter < 0 || c.killAfter >= c.jobs):
		return fmt.Errorf("-kill-after %d: want 0 to %d", c.killAfter, c.jobs-1)
	case c.minJob <= 0 || c.maxJob < c.minJob:
		return fmt.Errorf("-min-job %v, -max-job %v: want 0 < min <= max", c.minJob, c.maxJob)
	case c.timeout <= 0:
		return fmt.Errorf("-timeout %v: want more than 0", c.timeout)
	case c.worker < 0 || c.worker > 0 && c.addr == "":
		return fmt.Errorf("-worker %d: a worker needs -redis", c.worker)
	}
	return nil
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
