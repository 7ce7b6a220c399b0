package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// The operator acts when these shares of the jobs have ended.
var milestones = []float64{0.2, 0.4, 0.6}

// gracePeriod bounds Shutdown's wait once every job has been awaited (there
// should be nothing left to wait for).
const gracePeriod = 5 * time.Second

// run submits cfg.Jobs simulated jobs to a scheduler capped at cfg.Limit,
// lets an operator force-run, promote, cancel and add jobs while they run,
// awaits every handle, shuts the scheduler down and prints a summary to out,
// with live progress on the way. If ctx ends first, what is left is canceled
// and the summary of what ran is still printed; run then returns ctx's
// error. A non-nil error also reports anything the summary shows to be
// wrong with the scheduler.
func run(ctx context.Context, cfg config, out io.Writer) (summary, error) {
	if cfg.Jobs < 1 {
		return summary{}, fmt.Errorf("jobs = %d; want at least 1", cfg.Jobs)
	}
	out = &lockedWriter{w: out} // the sampler and the interrupt both write
	start := time.Now()
	// The root scope supervises: a failing job is reported and its
	// siblings go on. The handler counts the failures rather than logging
	// each one, as the default handler would.
	var reported atomic.Int64
	// WithTimings: the summary reads each job's queue and run times.
	s, err := scheduler.New(scheduler.WithLimit(cfg.Limit), scheduler.WithTimings(),
		scheduler.Supervise(func(lazytask.Info, error) { reported.Add(1) }))
	if err != nil {
		return summary{}, err
	}

	m := &sampler{s: s, start: start, d: &lines{out: out, every: cfg.Every}}
	if cfg.Terminal {
		m.d = newScreen(out, cfg.Width)
	}
	m.d.event(fmt.Sprintf("jobs: %d simulated jobs under a cap of %d (mean %v, %.0f%% fail)",
		cfg.Jobs, cfg.Limit, cfg.Mean, 100*cfg.FailRate))
	m.d.event(fmt.Sprintf("when %s of them have ended, an operator moves a few:", percents(milestones)))
	m.d.event(fmt.Sprintf("(Ctrl-C drains for %v, then cancels; a second Ctrl-C cancels at once)", cfg.Grace))
	stopSampler, samplerDone := make(chan struct{}), make(chan struct{})
	go func() { defer close(samplerDone); m.loop(stopSampler) }()

	var g gauge
	sp := newSpecs(cfg)
	marks := newMarks(cfg.Jobs, milestones)
	jobs := make([]*lazytask.Task[time.Duration], cfg.Jobs)
	var submitErr error
	for i := range jobs {
		jobs[i], submitErr = scheduler.Submit(s, sp.next().fn(&g, cfg.Forced), lazytask.WithName(fmt.Sprint("job-", i)))
		jobs[i].OnDone(marks.done)
		if submitErr != nil { // not expected: the queue is unbounded
			jobs = jobs[:i+1] // the last handle has ended, refused
			break
		}
	}

	op := &operator{s: s, jobs: jobs, specs: sp, g: &g, forced: cfg.Forced, start: start, d: m.d, next: len(jobs)}
	opCtx, stopOp := context.WithCancel(ctx)
	defer stopOp()
	opDone := make(chan struct{})
	go func() { defer close(opDone); op.work(opCtx, ctx, marks.chans) }()

	// The first interrupt starts a graceful shutdown: the operator stops,
	// nothing new is admitted, and queued and running jobs may finish for
	// cfg.Grace; then the rest are canceled. ctx ending cancels at once.
	allDone := make(chan struct{})
	drained := make(chan error, 1)
	go func() {
		select {
		case <-cfg.Drain:
			m.d.event(fmt.Sprintf("interrupt: draining for up to %v (interrupt again to cancel now)", cfg.Grace))
			stopOp()
			grace, cancel := context.WithTimeout(ctx, cfg.Grace)
			defer cancel()
			drained <- s.Shutdown(grace)
		case <-allDone:
			close(drained)
		}
	}()
	waitErr := awaitAll(ctx, jobs)
	stopOp() // a no-op unless interrupted: then the operator stops
	<-opDone
	if waitErr == nil {
		waitErr = awaitAll(ctx, op.extra)
	}
	close(allDone)
	var shutErr error
	if derr, interrupted := <-drained; interrupted {
		// A graceful shutdown ran; its grace ending is not a fault.
		_ = derr
		waitErr = errInterrupted
		if ctx.Err() != nil {
			_ = s.Shutdown(ctx) // the second interrupt: escalate
		}
	} else {
		grace, cancel := context.WithTimeout(context.Background(), gracePeriod)
		if waitErr != nil {
			cancel() // canceled: cancel what is left at once
		}
		shutErr = s.Shutdown(grace)
		cancel()
		if waitErr != nil {
			shutErr = nil // the grace period was cut short on purpose
		}
	}
	op.watchers.Wait() // every task has ended: each watcher has told its line
	close(stopSampler)
	<-samplerDone

	sum := summarize(slices.Concat(jobs, op.extra), op)
	sum.Limit, sum.ForcedLength = cfg.Limit, cfg.Forced
	sum.Stats = s.Stats()
	sum.PeakRunning, sum.PeakUnderCap = int(g.peakBoth.Load()), int(g.peakUnder.Load())
	sum.PeakOverCap = int(g.peakOver.Load())
	sum.PeakSampled, sum.PeakOverSampled = m.peakRunning, m.peakOverCap
	sum.Reported = int(reported.Load())
	sum.Wall = time.Since(start)
	sum.JobsPerSec = float64(sum.Jobs) / sum.Wall.Seconds()
	sum.print(out)
	return sum, errors.Join(submitErr, waitErr, shutErr, errors.Join(op.errs...), sum.check())
}

// percents writes shares as "20%, 40% and 60%".
func percents(shares []float64) string {
	var b strings.Builder
	for i, f := range shares {
		switch {
		case i == 0:
		case i == len(shares)-1:
			b.WriteString(" and ")
		default:
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%.0f%%", 100*f)
	}
	return b.String()
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// errInterrupted is run's error after a graceful shutdown on interrupt.
var errInterrupted = errors.New("interrupted: shut down gracefully")

// awaitAll waits for every handle to end, or for ctx to end (it then
// returns ctx's cause). The jobs' own errors are read later, from the
// handles.
func awaitAll(ctx context.Context, hs []*lazytask.Task[time.Duration]) error {
	for _, h := range hs {
		if h.Wait(ctx) != nil && ctx.Err() != nil {
			return context.Cause(ctx)
		}
	}
	return nil
}

// marks counts the jobs that have ended and closes one channel per
// milestone as the count reaches it.
type marks struct {
	ended  atomic.Int64
	at     []int64
	chans  []<-chan struct{}
	closes []chan struct{}
}

func newMarks(jobs int, shares []float64) *marks {
	mk := &marks{}
	for _, f := range shares {
		c := make(chan struct{})
		mk.at = append(mk.at, max(int64(f*float64(jobs)), 1))
		mk.chans = append(mk.chans, c)
		mk.closes = append(mk.closes, c)
	}
	return mk
}

// done is the OnDone callback of every job. Each count is reached once, so
// each channel is closed once.
func (mk *marks) done(time.Duration, error) {
	n := mk.ended.Add(1)
	for i, at := range mk.at {
		if n == at {
			close(mk.closes[i])
		}
	}
}
