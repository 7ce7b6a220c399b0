package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// errOperator is the cause given to the queued jobs the operator cancels.
var errOperator = errors.New("jobs: canceled by the operator")

// What the operator does at each milestone.
const (
	forcesPerStep   = 2 // queued jobs force-run over the cap (s.Force, then h.Start)
	lazyPerStep     = 1 // urgent lazy jobs force-run over the cap
	promotesPerStep = 2 // queued jobs moved to the head of the queue
	cancelsPerStep  = 2 // queued jobs canceled before they run
	urgentPerStep   = 2 // jobs submitted with urgentPriority
	urgentPriority  = 10
)

// operator plays a person at the console: at each milestone (a share of the
// jobs done) it force-runs, promotes and cancels queued jobs and submits a
// few urgent ones. It walks the jobs from the newest, the ones that would
// wait longest. Each move is told to the display as it is made, and each
// job it moved or added is awaited on a goroutine of its own, which tells
// the display how the job ended, how long it waited and how long it ran.
type operator struct {
	s      *scheduler.Scheduler
	jobs   []*lazytask.Task[time.Duration] // read only
	specs  *specs
	g      *gauge
	forced time.Duration // how long a force-run job works at least
	start  time.Time
	d      display
	next   int // index of the next job to look at, walking down

	// the operator's own jobs, and what it did (counting only what took
	// effect: a job may start on its own just before the operator acts)
	extra                          []*lazytask.Task[time.Duration]
	promotedJobs, urgentJobs       []*lazytask.Task[time.Duration]
	promotedAt                     []time.Time
	forcedRuns, promoted, canceled int
	urgent                         int
	late                           int     // moves that came too late: the job had started
	errs                           []error // moves refused for no good reason

	watchers sync.WaitGroup
}

// work waits for each milestone and acts on it, until the milestones are
// all passed or ctx ends. The awaiting goroutines it starts wait with
// watchCtx; wait for them with op.watchers.
func (op *operator) work(ctx, watchCtx context.Context, milestones []<-chan struct{}) {
	for i, m := range milestones {
		select {
		case <-m:
		case <-ctx.Done():
			return
		}
		op.step(watchCtx, i)
	}
}

// say tells the display one move: when, what, to which job, and how it
// went. The columns fit 79 characters.
func (op *operator) say(move, name, text string) {
	op.d.event(fmt.Sprintf("%7.2fs  %-9s  %-11s %s", time.Since(op.start).Seconds(), move, name, text))
}

func (op *operator) step(ctx context.Context, i int) {
	for k := range forcesPerStep {
		if h := op.queued(); h != nil {
			call, err := "s.Force(h)", error(nil)
			if k%2 == 0 {
				err = op.s.Force(h)
			} else {
				call, err = "h.Start()", h.Start() // the same move, from the handle
			}
			if op.count("force-run", h.Name(), err, &op.forcedRuns) {
				op.say("force-run", h.Name(), call+": runs now, over the cap")
				op.watch(ctx, h)
			}
		}
	}
	for k := range lazyPerStep {
		sp := op.specs.next()
		sp.fail = false
		// A Lazy task bound to the scheduler: it runs only when started.
		t := scheduler.NewTask(op.s, sp.fn(op.g, op.forced), lazytask.WithName(fmt.Sprintf("hotfix-%d.%d", i, k)))
		op.extra = append(op.extra, t)
		err := op.s.Force(t)
		if err != nil {
			t.Cancel(err) // awaiting a Lazy task would wait for ever
		}
		if op.count("force-run", t.Name(), err, &op.forcedRuns) {
			op.say("force-run", t.Name(), "NewTask, s.Force: a lazy job runs now")
			op.watch(ctx, t)
		}
	}
	for range promotesPerStep {
		if h := op.queued(); h != nil {
			at := time.Now()
			err := op.s.Promote(h)
			if op.count("promote", h.Name(), err, &op.promoted) {
				op.promotedJobs = append(op.promotedJobs, h)
				op.promotedAt = append(op.promotedAt, at)
				op.say("promote", h.Name(), fmt.Sprintf("s.Promote(h): to the front of %d queued", op.s.Stats().Queued))
				op.watch(ctx, h)
			}
		}
	}
	for range cancelsPerStep {
		if h := op.queued(); h != nil {
			if h.Cancel(errOperator) {
				op.canceled++
				op.say("cancel", h.Name(), fmt.Sprintf("h.Cancel: %v while queued, never runs", h.State()))
			} else {
				op.late++
				op.say("cancel", h.Name(), "too late: the job had started on its own")
			}
		}
	}
	for k := range urgentPerStep {
		t, err := scheduler.Submit(op.s, op.specs.next().fn(op.g, op.forced),
			lazytask.WithName(fmt.Sprintf("urgent-%d.%d", i, k)), lazytask.WithPriority(urgentPriority))
		op.extra = append(op.extra, t)
		if op.count("submit", t.Name(), err, &op.urgent) {
			op.urgentJobs = append(op.urgentJobs, t)
			op.say("submit", t.Name(), fmt.Sprintf("priority %d: ahead of the priority 0 jobs", urgentPriority))
			op.watch(ctx, t)
		}
	}
}

// watch awaits h on a goroutine of its own and tells the display how it
// ended. The typed result is the time the job worked.
func (op *operator) watch(ctx context.Context, h *lazytask.Task[time.Duration]) {
	op.watchers.Go(func() {
		if _, err := h.Await(ctx); err != nil && ctx.Err() != nil {
			return // interrupted: no more waiting
		}
		tm := h.Timings()
		waited := "never queued"
		if !tm.Queued.IsZero() {
			waited = round(tm.QueueTime()).String() + " in queue"
		}
		ran := "never ran"
		if !tm.Started.IsZero() {
			ran = "ran " + round(tm.RunTime()).String()
		}
		op.say("awaited", h.Name(), fmt.Sprintf("%v: %s, %s", h.State(), waited, ran))
	})
}

// queued returns the newest job that is still queued, or nil.
func (op *operator) queued() *lazytask.Task[time.Duration] {
	for op.next > 0 {
		op.next--
		if h := op.jobs[op.next]; h.State() == lazytask.Queued {
			return h
		}
	}
	return nil
}

// count adds a move that took effect to *n and reports true. A move that
// came too late (the job was admitted on its own between the operator's
// look at it and the move, or the scheduler is shutting down) is counted
// in late and told to the display; any other refusal is kept as an error.
func (op *operator) count(move, name string, err error, n *int) bool {
	switch {
	case err == nil:
		*n++
		return true
	case errors.Is(err, scheduler.ErrNotQueued), errors.Is(err, lazytask.ErrStarted):
		op.late++
		op.say(move, name, "too late: the job had started on its own")
	case errors.Is(err, scheduler.ErrClosed):
		op.late++
		op.say(move, name, "too late: the scheduler is shutting down")
	default:
		op.errs = append(op.errs, err)
		op.say(move, name, "refused: "+err.Error())
	}
	return false
}
