// Package tracker is a ready-made task tracker built on the scheduler's
// lifecycle hooks: it counts tasks by step and outcome and sums their time
// in queue and running, and can publish the figures with expvar. It is also
// the example of how to write a tracker: a few atomics updated from Hooks.
package tracker

import (
	"context"
	"expvar"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Tracker counts what its Hooks see. The zero value is ready to use; a
// Tracker must not be copied after first use. Its methods panic on a nil
// *Tracker, naming it.
type Tracker struct {
	created, queued, started           atomic.Int64
	succeeded, failed, canceled        atomic.Int64
	rejected                           atomic.Int64
	queueNanos, runNanos, maxQueueNano atomic.Int64
}

// Hooks returns the hooks to register with scheduler.WithHooks. Register
// them once on a task's path: given to a scope and to one of its ancestors
// too, they see each of that scope's tasks twice, and count it twice.
func (t *Tracker) Hooks() scheduler.Hooks {
	t.mustNotBeNil()
	return scheduler.Hooks{
		OnCreate: func(context.Context, *scheduler.Scope, lazytask.Handle) { t.created.Add(1) },
		OnQueue:  func(context.Context, *scheduler.Scope, lazytask.Handle) { t.queued.Add(1) },
		OnStart:  func(context.Context, *scheduler.Scope, lazytask.Handle) context.Context { t.started.Add(1); return nil },
		OnDone:   t.done,
		Timings:  true, // the queue and run times
	}
}

func (t *Tracker) done(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
	switch st := h.State(); {
	case st == lazytask.Succeeded:
		t.succeeded.Add(1)
	case h.Info().Rejected:
		t.rejected.Add(1)
	case st == lazytask.Failed:
		t.failed.Add(1)
	default:
		t.canceled.Add(1)
	}
	tm := h.Timings()
	q := int64(tm.QueueTime())
	t.queueNanos.Add(q)
	t.runNanos.Add(int64(tm.RunTime()))
	for {
		m := t.maxQueueNano.Load()
		if q <= m || t.maxQueueNano.CompareAndSwap(m, q) {
			break
		}
	}
}

// mustNotBeNil panics, naming the mistake, on a nil *Tracker: at the call
// that holds it, not later in every task's hooks (contained there, task by
// task) or in every read of expvar's page (which a panicking Func breaks
// for every variable).
func (t *Tracker) mustNotBeNil() {
	if t == nil {
		panic("tracker: method called on a nil *Tracker")
	}
}

// Figures are a Tracker's counts and durations, read one by one (see
// Tracker.Figures for what they then keep to). Rejected
// counts the tasks their scheduler refused (lazytask.Info.Rejected) that
// its hooks saw, as Scheduler.Stats does; they are not counted in Failed or
// Canceled. A task refused for bad input (a nil function, an invalid
// option) fires no hook: Stats counts it in Created and Rejected, the
// Tracker nowhere. Created counts the OnCreate hooks, which fire for an
// Enqueue before its handoff: an Enqueue refused there (a full queue, a
// closed scope) is counted in Created and nowhere else, not by Stats, and
// the task, left Lazy, never ends here; an Enqueue retried after such a
// refusal is counted again. Created less the tasks ended then overstates
// the tasks in flight by those refusals.
// Queued counts the OnQueue hooks, one per handoff to a queue: a Submit
// refused at the handoff (a full queue, a weight above the cap, a scope
// closed meanwhile) is counted there and in Rejected, and a refused
// Enqueue there alone (see scheduler.Hooks); Stats.Submitted counts the
// handoffs taken.
type Figures struct {
	Created, Queued, Started         int64
	Succeeded, Failed, Canceled      int64
	Rejected                         int64
	QueueTime, RunTime, MaxQueueTime time.Duration
}

// Figures returns the current counts and the summed durations. The
// counters are read one by one while tasks go on, in the reverse order of
// a task's steps (its durations and end first, its creation last), so that
// every task counted at a step is counted at the steps before it: no
// Figures shows more tasks ended than created, or more succeeded than
// started.
func (t *Tracker) Figures() Figures {
	t.mustNotBeNil()
	var f Figures
	f.QueueTime = time.Duration(t.queueNanos.Load())
	f.RunTime = time.Duration(t.runNanos.Load())
	f.MaxQueueTime = time.Duration(t.maxQueueNano.Load())
	f.Rejected, f.Canceled = t.rejected.Load(), t.canceled.Load()
	f.Failed, f.Succeeded = t.failed.Load(), t.succeeded.Load()
	f.Started = t.started.Load()
	f.Queued = t.queued.Load()
	f.Created = t.created.Load()
	return f
}

// publishMu makes Publish's look-up and publication one step: two Publish
// calls of one name at once would both find it free, and expvar.Publish
// panics on the second.
var publishMu sync.Mutex

// Publish exposes the figures as the expvar variable name (a map served at
// /debug/vars by net/http's default mux when expvar is imported). It
// reports false, publishing nothing, if the name is taken; of concurrent
// calls with one name, one reports true. A name that code other than
// Publish takes meanwhile (expvar.Publish panics on a name taken) is taken
// too: false, no panic.
func (t *Tracker) Publish(name string) (ok bool) {
	t.mustNotBeNil()
	publishMu.Lock()
	defer publishMu.Unlock()
	if expvar.Get(name) != nil {
		return false
	}
	defer func() {
		if recover() != nil {
			ok = false // taken between Get and Publish, outside Publish
		}
	}()
	expvar.Publish(name, expvar.Func(func() any { return t.Figures() }))
	return true
}
