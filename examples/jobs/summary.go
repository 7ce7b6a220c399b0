package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// summary is what a run did, counted from the handles (states, timings),
// from the operator (moves), from inside the jobs (peaks) and from the
// scheduler's own counters (Stats), so that each can check the others.
type summary struct {
	Limit int
	Jobs  int // handles awaited: the jobs submitted up front and the operator's

	Succeeded, Failed, Canceled int     // final states of the handles
	Reported                    int     // errors the root scope's supervisor handler saw
	Odd                         []error // failures that are not the simulated one

	ForceRuns, Promotes, Cancels, Urgent int // the operator's moves that took effect
	Late                                 int // its moves that came too late: the job had started

	QueueP50, QueueP99 time.Duration // of the jobs that ran
	RunP50, RunP99     time.Duration
	PromotedWaitMax    time.Duration // longest wait of a promoted job after its promotion
	UrgentQueueMax     time.Duration // longest wait of a priority job

	PeakRunning     int // job functions running at once, measured inside them
	PeakUnderCap    int // of those, admitted under the cap
	PeakOverCap     int // job functions force-run over the cap running at once, measured inside them
	PeakSampled     int // highest Stats().Running seen by the sampler
	PeakOverSampled int // highest Stats().OverCap seen by the sampler

	Stats scheduler.Stats // the scheduler's counters after Shutdown

	ForcedLength time.Duration // a force-run job works at least this long

	Wall       time.Duration
	JobsPerSec float64
}

func summarize(handles []*lazytask.Task[time.Duration], op *operator) summary {
	sum := summary{
		Jobs: len(handles), ForceRuns: op.forcedRuns, Promotes: op.promoted,
		Cancels: op.canceled, Urgent: op.urgent, Late: op.late,
	}
	var queue, run []time.Duration
	for _, h := range handles {
		switch h.State() {
		case lazytask.Succeeded:
			sum.Succeeded++
		case lazytask.Failed:
			sum.Failed++
			if !errors.Is(h.Err(), errSimulated) {
				sum.Odd = append(sum.Odd, h.Err())
			}
		case lazytask.Canceled:
			sum.Canceled++
		}
		if tm := h.Timings(); !tm.Started.IsZero() {
			queue = append(queue, tm.QueueTime())
			run = append(run, tm.RunTime())
		}
	}
	sum.QueueP50, sum.QueueP99 = quantile(queue, 0.50), quantile(queue, 0.99)
	sum.RunP50, sum.RunP99 = quantile(run, 0.50), quantile(run, 0.99)
	for i, h := range op.promotedJobs {
		if tm := h.Timings(); !tm.Started.IsZero() {
			sum.PromotedWaitMax = max(sum.PromotedWaitMax, tm.Started.Sub(op.promotedAt[i]))
		}
	}
	sum.UrgentQueueMax = maxQueue(op.urgentJobs)
	return sum
}

// quantile returns the q-quantile of xs (nearest rank), sorting xs.
func quantile(xs []time.Duration, q float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[max(int(math.Ceil(q*float64(len(xs))))-1, 0)]
}

func maxQueue(hs []*lazytask.Task[time.Duration]) time.Duration {
	var m time.Duration
	for _, h := range hs {
		m = max(m, h.Timings().QueueTime())
	}
	return m
}

// check returns what the run shows to be wrong with the scheduler, if
// anything: a job not accounted for, counters that disagree with the
// handles, or more jobs running than the cap and the force-runs allow.
func (sum summary) check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	st := sum.Stats
	for _, err := range sum.Odd {
		bad("a job failed with %v; want %v", err, errSimulated)
	}
	if n := sum.Succeeded + sum.Failed + sum.Canceled; n != sum.Jobs {
		bad("succeeded+failed+canceled = %d; want %d jobs", n, sum.Jobs)
	}
	if got := [3]uint64{st.Succeeded, st.Failed, st.Canceled}; got != [3]uint64{uint64(sum.Succeeded), uint64(sum.Failed), uint64(sum.Canceled)} {
		bad("Stats succeeded/failed/canceled = %v; handles say %d/%d/%d", got, sum.Succeeded, sum.Failed, sum.Canceled)
	}
	if st.ForceRuns != uint64(sum.ForceRuns) || st.Promoted != uint64(sum.Promotes) {
		bad("Stats ForceRuns, Promoted = %d, %d; operator says %d, %d", st.ForceRuns, st.Promoted, sum.ForceRuns, sum.Promotes)
	}
	if st.Running != 0 || st.Queued != 0 || st.InUse != 0 || st.OverCap != 0 {
		bad("after Shutdown Stats = %+v; want nothing queued, running or in use", st)
	}
	if sum.PeakUnderCap > sum.Limit {
		bad("peak running under the cap = %d; want <= %d", sum.PeakUnderCap, sum.Limit)
	}
	if sum.PeakRunning > sum.Limit+sum.ForceRuns {
		bad("peak running = %d; want <= cap %d + %d over-cap runs", sum.PeakRunning, sum.Limit, sum.ForceRuns)
	}
	if sum.PeakOverCap > sum.ForceRuns {
		bad("peak running over the cap = %d; want <= %d force-runs", sum.PeakOverCap, sum.ForceRuns)
	}
	return errors.Join(errs...)
}

// print writes the summary in lines of at most 79 columns.
func (sum summary) print(out io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	st := sum.Stats
	p("")
	p("summary: %d jobs under a cap of %d in %v (%.0f jobs/s)", sum.Jobs, sum.Limit, sum.Wall.Round(time.Millisecond), sum.JobsPerSec)
	p("  ended      succeeded %d  failed %d  canceled %d", sum.Succeeded, sum.Failed, sum.Canceled)
	p("             (the root scope's supervisor handler saw %d errors)", sum.Reported)
	p("  moves      force-runs %d  promotes %d  cancels %d  priority jobs %d", sum.ForceRuns, sum.Promotes, sum.Cancels, sum.Urgent)
	p("             too late, the job had already started: %d", sum.Late)
	p("  queue time p50 %v  p99 %v", round(sum.QueueP50), round(sum.QueueP99))
	p("             priority jobs at most %v; promoted ones %v after it", round(sum.UrgentQueueMax), round(sum.PromotedWaitMax))
	p("  run time   p50 %v  p99 %v (a force-run works at least %v)", round(sum.RunP50), round(sum.RunP99), round(sum.ForcedLength))
	p("  at once    at most %d jobs ran at once, %d of them under the cap of %d", sum.PeakRunning, sum.PeakUnderCap, sum.Limit)
	p("             and %d force-run over it (the display saw over-cap %d);", sum.PeakOverCap, sum.PeakOverSampled)
	p("             the cap allows %d + the %d force-runs = %d", sum.Limit, sum.ForceRuns, sum.Limit+sum.ForceRuns)
	p("  Stats()    submitted %d  succeeded %d  failed %d  canceled %d", st.Submitted, st.Succeeded, st.Failed, st.Canceled)
	p("             force-runs %d  promoted %d  (the scheduler's own counters)", st.ForceRuns, st.Promoted)
}

// round keeps three significant digits or so.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
