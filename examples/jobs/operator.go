package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// errOperator is the cause given to the queued jobs the operator cancels.
var errOperator = errors.New("jobs: canceled by the operator")

// What the operator does at each milestone.
const (
	forcesPerStep   = 2  // queued jobs force-run over the cap
	lazyPerStep     = 1  // urgent lazy jobs force-run over the cap
	promotesPerStep = 3  // queued jobs moved to the head of the queue
	cancelsPerStep  = 10 // queued jobs canceled before they run
	urgentPerStep   = 3  // jobs submitted with urgentPriority
	urgentPriority  = 10
)

// operator plays a person at the console: at each milestone (a share of the
// jobs done) it force-runs, promotes and cancels queued jobs and submits a
// few urgent ones. It walks the jobs from the newest, the ones that would
// wait longest.
type operator struct {
	s     *scheduler.Scheduler
	jobs  []*lazytask.Task[time.Duration] // read only
	specs *specs
	g     *gauge
	next  int // index of the next job to look at, walking down

	// the operator's own jobs, and what it did (counting only what took
	// effect: a job may start on its own just before the operator acts)
	extra                      []*lazytask.Task[time.Duration]
	promotedJobs, urgentJobs   []*lazytask.Task[time.Duration]
	promotedAt                 []time.Time
	forced, promoted, canceled int
	urgent                     int
	missed                     int
	errs                       []error // moves refused for no good reason
}

// work waits for each milestone and acts on it, until the milestones are
// all passed or ctx ends.
func (op *operator) work(ctx context.Context, milestones []<-chan struct{}) {
	for i, m := range milestones {
		select {
		case <-m:
		case <-ctx.Done():
			return
		}
		op.step(i)
	}
}

func (op *operator) step(i int) {
	for range forcesPerStep {
		if h := op.queued(); h != nil {
			var err error
			if op.forced%2 == 0 {
				err = op.s.Force(h)
			} else {
				err = h.Start() // the same move, from the handle
			}
			op.count(err, &op.forced)
		}
	}
	for k := range lazyPerStep {
		sp := op.specs.next()
		sp.fail = false
		// A Lazy task bound to the scheduler: it runs only when started.
		t := scheduler.NewTask(op.s, sp.fn(op.g), lazytask.WithName(fmt.Sprintf("hotfix-%d.%d", i, k)))
		op.extra = append(op.extra, t)
		err := op.s.Force(t)
		if err != nil {
			t.Cancel(err) // awaiting a Lazy task would wait for ever
		}
		op.count(err, &op.forced)
	}
	for range promotesPerStep {
		if h := op.queued(); h != nil {
			at := time.Now()
			err := op.s.Promote(h)
			if err == nil {
				op.promotedJobs = append(op.promotedJobs, h)
				op.promotedAt = append(op.promotedAt, at)
			}
			op.count(err, &op.promoted)
		}
	}
	for range cancelsPerStep {
		if h := op.queued(); h != nil {
			if h.Cancel(errOperator) {
				op.canceled++
			} else {
				op.missed++
			}
		}
	}
	for k := range urgentPerStep {
		t, err := scheduler.Submit(op.s, op.specs.next().fn(op.g),
			lazytask.WithName(fmt.Sprintf("urgent-%d.%d", i, k)), lazytask.WithPriority(urgentPriority))
		op.extra = append(op.extra, t)
		if err == nil {
			op.urgentJobs = append(op.urgentJobs, t)
		}
		op.count(err, &op.urgent)
	}
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

// count adds a move that took effect to *n, and one that lost its race
// with admission (or with shutdown) to missed; any other refusal is kept
// as an error.
func (op *operator) count(err error, n *int) {
	switch {
	case err == nil:
		*n++
	case errors.Is(err, scheduler.ErrNotQueued), errors.Is(err, lazytask.ErrStarted), errors.Is(err, scheduler.ErrClosed):
		op.missed++
	default:
		op.errs = append(op.errs, err)
	}
}
