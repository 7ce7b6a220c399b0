package core

// Which task a goroutine runs, for the done callbacks and hooks that a
// task's own call (a Cancel of a queued task, made by its function) runs on
// its goroutine while it holds its slots (I11). Such code is given no
// context of that task's, yet it runs inside it: a wait it makes must lend
// the task's slots, as the task's own wait would, or at cap 1 a callback
// that awaits a task queued behind waits for ever; and a Shutdown it calls
// must leave that task out, as a Shutdown from inside the task does, or it
// waits for the task that waits for it.

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/lazysched/lazysched/internal/goid"
)

// Worker is the record of a goroutine that runs tasks, kept by an owner
// from the goroutine's start (NewWorker) to its exit (Worker.Exit). Only
// that goroutine touches its fields.
type Worker struct {
	id   uint64
	prev *Worker // the record this one hides (a nested work loop), put back by Exit
	cur  *Task   // the task it runs, or ran last
	// sections counts the callback sections the goroutine is in
	// (EnterCallbacks), nested.
	sections int
	// The records of goroutines started together would share cache lines,
	// and each stores cur per task: a line of its own keeps those stores
	// from slowing the other goroutines down.
	_ [64 - 32]byte
}

// workers maps goroutine ids to their Worker; sections counts the callback
// sections open on every goroutine, so that a wait made with a context of
// no task's reads the goroutine id (a microsecond and more) only while
// some are.
var (
	workers  sync.Map // uint64 -> *Worker
	sections atomic.Int32
)

// NewWorker registers the calling goroutine, whose id is id, as one that
// runs tasks. Owners call it once per goroutine, not per task. A work loop
// nested in another on one goroutine (an executor that runs a scheduler's
// goroutines as tasks of another) hides the outer record until it exits.
func NewWorker(id uint64) *Worker {
	r := &Worker{id: id}
	if v, loaded := workers.Swap(id, r); loaded {
		r.prev = v.(*Worker)
	}
	return r
}

// Exit unregisters r as its goroutine exits, or its nested work loop
// ends: the record it hid is back.
func (r *Worker) Exit() {
	if r.prev != nil {
		workers.CompareAndSwap(r.id, r, r.prev)
		return
	}
	workers.CompareAndDelete(r.id, r)
}

// Runs records that r's goroutine runs c now. A plain store: only r's
// goroutine reads it.
func (r *Worker) Runs(c *Task) { r.cur = c }

// EnterCallbacks opens a callback section on the goroutine whose id is id,
// for the done callbacks and hooks that it is about to run for other
// tasks: if it is a Worker whose task is running, code in the section is
// inside that task (Current). The returned function closes the section;
// it is nil if none was opened.
func EnterCallbacks(id uint64) (leave func()) {
	v, ok := workers.Load(id)
	if !ok {
		return nil
	}
	r := v.(*Worker)
	if r.cur == nil || State(r.cur.state.Load()&stateMask) != Running {
		return nil
	}
	r.sections++
	sections.Add(1)
	return func() {
		sections.Add(-1)
		r.sections--
	}
}

// late counts the callback sections open anywhere that were opened
// without the goroutine's record (EnterCallbacksHere).
var late atomic.Int32

// EnterCallbacksHere is EnterCallbacks for the calling goroutine, without
// reading its id (a stack trace, 1-3 µs: 25 times the cost of a done
// callback registered after the end, which is where it is used). While
// such a section is open anywhere, a wait or Shutdown made on a goroutine
// whose task runs, with a context of no running task's, counts as inside
// that task, whether or not that goroutine is in the section: such code
// runs on the task's goroutine while it runs, so it is inside the task;
// what the record's count adds is only the saving of the id read when no
// section is open. The returned function closes the section.
func EnterCallbacksHere() (leave func()) {
	sections.Add(1)
	late.Add(1)
	return leaveHere
}

func leaveHere() {
	late.Add(-1)
	sections.Add(-1)
}

// Current returns the task that code running with ctx is inside: the task
// whose function received ctx (FromContext) if it runs; else, in a callback
// section (EnterCallbacks), the running task on whose goroutine the done
// callbacks or hooks of others run now: their context is of no task's, or
// of a task that is not running (a done hook's, kept with its values by
// context.WithoutCancel); else FromContext's task, or nil.
//
// Cost: one atomic load while no section is open anywhere, 4 ns. While
// one is (a callback that waits keeps its section open), a wait with a
// context of no running task's reads the goroutine id, about 3 µs here:
// only an Await of a task not done yet, a combinator's wait, and a Wait or
// Shutdown ask.
func Current(ctx context.Context) *Task {
	c := FromContext(ctx)
	if sections.Load() == 0 || c != nil && State(c.state.Load()&stateMask) == Running {
		return c
	}
	if t := inSection(); t != nil {
		return t
	}
	return c
}

// inSection returns the task of the callback section the calling goroutine
// is in, or nil.
func inSection() *Task {
	v, ok := workers.Load(goid.ID())
	if !ok {
		return nil
	}
	r := v.(*Worker)
	if r.sections > 0 || late.Load() > 0 && r.cur != nil && State(r.cur.state.Load()&stateMask) == Running {
		return r.cur
	}
	return nil
}
