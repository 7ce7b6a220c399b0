package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/redisfleet"
	"github.com/lazysched/lazysched/scheduler"
)

// reportEvery is how often a worker reports its state to the parent.
const reportEvery = 100 * time.Millisecond

// The lines a worker writes on its stdout, read by the parent:
//
//	state held=H running=R done=D lost=L   every reportEvery
//	finished done=D lost=L                 once every job has ended
//	error MESSAGE                          if it cannot run
const (
	stateFormat    = "state held=%d running=%d done=%d lost=%d"
	finishedFormat = "finished done=%d lost=%d"
)

// runWorker is the body of a worker process: a scheduler with a local cap
// over the fleet's Limit, cfg.jobs simulated jobs, and a state line on
// stdout every reportEvery. It returns the process's exit status.
func runWorker(cfg config) int {
	out := bufio.NewWriter(os.Stdout)
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
		_ = out.Flush()
	}
	// The parent holds our stdin open: if it goes away, so do we.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()

	client := redis.NewClient(&redis.Options{Addr: cfg.addr})
	defer client.Close()
	fleet, err := redisfleet.New(client, cfg.name, int64(cfg.limit), redisfleet.WithLease(cfg.lease))
	if err != nil {
		say("error %v", err)
		return 1
	}
	defer fleet.Close() // after the scheduler's Shutdown
	s, err := scheduler.New(scheduler.WithLimit(cfg.limit), scheduler.WithSharedLimit(fleet))
	if err != nil {
		say("error %v", err)
		return 1
	}

	var running, done, lost atomic.Int64
	report := func() {
		say(stateFormat, fleet.Stats().Held, running.Load(), done.Load(), lost.Load())
	}
	stop := make(chan struct{})
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		t := time.NewTicker(reportEvery)
		defer t.Stop()
		for {
			report()
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	}()

	handles := make([]*lazytask.Task[struct{}], 0, cfg.jobs)
	for range cfg.jobs {
		d := cfg.minJob + rand.N(cfg.maxJob-cfg.minJob+1)
		h, err := scheduler.Go(s, func(ctx context.Context) error {
			running.Add(1)
			defer running.Add(-1)
			return job(ctx, d, &done, &lost)
		})
		if err != nil {
			say("error submit: %v", err)
			return 1
		}
		handles = append(handles, h)
	}
	for _, h := range handles {
		_, _ = h.Await(context.Background()) // a job's outcome is in the counters
	}
	if err := s.Shutdown(context.Background()); err != nil {
		say("error shutdown: %v", err)
		return 1
	}
	close(stop)
	<-reported
	report()
	say(finishedFormat, done.Load(), lost.Load())
	return 0
}

// job is one simulated job: it works for d, unless its context ends first
// (the scheduler cancels it with limiter.ErrLeaseLost if the fleet's
// permit it runs under is lost: it must stop, its slot may go to another).
func job(ctx context.Context, d time.Duration, done, lost *atomic.Int64) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		done.Add(1)
		return nil
	case <-ctx.Done():
		err := context.Cause(ctx)
		if errors.Is(err, limiter.ErrLeaseLost) {
			lost.Add(1)
		}
		return err
	}
}
