package lazytask

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"
	"unsafe"

	"github.com/lazysched/lazysched/internal/core"
)

type base = core.Task

// Task is a typed handle to a job that returns a T. Create it with New; the
// zero value is not usable. A Task must not be copied after first use.
//
// All methods are safe for concurrent use.
type Task[T any] struct {
	// val comes first: a zero-size T (struct{}) at the end would be
	// padded to a word, and a Task[struct{}] would take 80 bytes, not 64.
	val  T
	base // the core: handleOf finds the Task from its address
}

// handleOf returns the Task whose core is c.
func handleOf[T any](c *core.Task) *Task[T] {
	var t *Task[T]
	return (*Task[T])(unsafe.Add(unsafe.Pointer(c), -int(unsafe.Offsetof(t.base))))
}

// runner is the user's function seen as a core.Runner; storing it in an
// interface costs no allocation, as a func value is one pointer.
type runner[T any] func(context.Context) (T, error)

// Call keeps the value only on success: a task that ended with an error
// reads as the zero T everywhere (Await, Result, callbacks, combinators).
func (f runner[T]) Call(c *core.Task, ctx context.Context) error {
	v, err := f(ctx)
	if err == nil {
		handleOf[T](c).val = v
	}
	return err
}

func (f runner[T]) Handle(c *core.Task) any { return handleOf[T](c) }

// New returns a Lazy task that will run fn once it is started or admitted
// by a scheduler. Nothing runs now.
//
// Bad input does not panic: if fn is nil, New returns a task already Failed
// with ErrNilFunc; if an option is invalid, a task already Failed with an
// error that wraps ErrInvalidOption.
func New[T any](fn func(ctx context.Context) (T, error), opts ...Option) *Task[T] {
	t := new(Task[T])
	if fn == nil {
		core.InitFailed(&t.base, runner[T](fn), ErrNilFunc)
		return t
	}
	if len(opts) == 0 {
		core.Init(&t.base, runner[T](fn), nil)
		return t
	}
	o := new(Options)
	for _, opt := range opts {
		if opt != nil {
			opt.apply(o)
		}
	}
	if err := o.validate(); err != nil {
		core.InitFailed(&t.base, runner[T](fn), err)
		return t
	}
	co := core.Options{Priority: int32(o.Priority), Weight: int64(max(o.Weight, 1)), Timeout: o.Timeout, Deadline: o.Deadline, Ctx: o.ctx, Cancels: o.cancels, Timed: o.KeepTimings}
	if o.Name != "" || len(o.Labels) > 0 || o.Weight > 1 || o.Timeout > 0 || !o.Deadline.IsZero() || o.ctx != nil || o.KeepTimings {
		co.Meta = o
	}
	core.Init(&t.base, runner[T](fn), &co)
	return t
}

// Await waits until the task has ended or ctx is done, whichever comes
// first, and returns the task's result. Await never starts the task and
// never cancels it: awaiting a Lazy task just waits. If ctx ends first,
// Await returns the zero T and context.Cause(ctx); the task goes on.
//
// If ctx is (or derives from) the context of a task running in a scheduler
// that lends slots, that task's slot is lent while Await waits, so nested
// fan-out on one cap cannot deadlock. When the wait ends the task takes its
// slot back ahead of every queued task; if ctx ended first (await with a
// timeout, then cancel the straggler), or ends while the task waits to
// take the slot back, and the slot is taken, the task goes on at once,
// over the cap, until a slot is free again.
//
// The lent slot may run any queued task of the scope, and the cap holds
// when the wait ends: a task whose own wait took the slot meanwhile gives
// it back when it ends or waits in turn. So a task must not, after such a
// wait, block on a task it queued before the wait other than by awaiting
// it (a channel that the queued task fills, say): at a cap of 1 that task
// may hold the slot and wait for the caller, which waits for the slot.
//
// The slot is the task's, not the goroutine's: an Await with the task's
// context made on another goroutine (one the task started) lends it too,
// and if the task's own code goes on running meanwhile, the queued task
// that the slot admits runs beside it, over the cap and uncounted. Await
// with the task's context only where the task waits too (for that
// goroutine, say); elsewhere, with a context of its own.
func (t *Task[T]) Await(ctx context.Context) (T, error) {
	if !core.IsDone(&t.base) {
		if err := t.wait(ctx); err != nil {
			var zero T
			return zero, err
		}
	}
	return t.val, core.Err(&t.base)
}

// Wait is Await without the value.
func (t *Task[T]) Wait(ctx context.Context) error {
	_, err := t.Await(ctx)
	return err
}

func (t *Task[T]) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	done, tok := core.DoneFor(&t.base)
	if reclaim := core.BeginWaitFor(ctx, &t.base); reclaim != nil {
		defer reclaim()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		if core.IsDone(&t.base) {
			return nil
		}
		// The wait is over: it no longer observes the task, whose carried
		// context's watch may hold it weakly again.
		core.ForgetDone(&t.base, tok)
		return core.DoneCause(ctx)
	}
}

// Done returns a channel that is closed once the task has ended and its
// result is visible. The channel is made on first call; a task nobody waits
// for costs none; called once the task has ended, it returns a closed
// channel. A scheduler closes it before a Wait that waits for the task
// returns and before a task that the freed slots admit starts; its Stats,
// and the task's State, may tell of the end a moment before a channel
// taken earlier is closed.
func (t *Task[T]) Done() <-chan struct{} { return core.Done(&t.base) }

// Result returns the task's value and error without blocking. Before the
// task has ended it returns the zero T and ErrNotDone.
func (t *Task[T]) Result() (T, error) {
	if !core.Ended(&t.base) {
		var zero T
		return zero, ErrNotDone
	}
	return t.val, core.Err(&t.base)
}

// Err returns the task's error without blocking: nil after a success,
// ErrNotDone before the end.
func (t *Task[T]) Err() error { return core.Err(&t.base) }

// State returns the task's current state.
func (t *Task[T]) State() State { return State(core.StateOf(&t.base)) }

// OnDone registers f to run exactly once with the task's result, after the
// result is visible, in registration order. Callbacks registered before the
// end run on the goroutine that ends the task. One registered after the end
// runs on the caller's goroutine before OnDone returns, unless earlier
// callbacks are still running: then it runs right after them, on their
// goroutine, so that the order holds (and a callback may register another
// without deadlock). A task that cancels another, queued one (its Cancel
// from inside a task) so runs that one's callbacks on its own goroutine,
// with its slot held: they run inside that task, as its own code does, so
// that a wait there lends the task's slot (a callback that awaits a task
// queued behind does not deadlock at cap 1) and a Shutdown there leaves
// the task out, whatever context they pass (so do the callbacks of an
// unbound Lazy task it cancels, and a callback that a task registers after
// the end, which runs on its goroutine). As for an Await made with the task's
// context from a goroutine of its own, the slot lent is the task's: other
// goroutines of that task may run on meanwhile. A panic in f is recovered and
// logged (with the scheduler's logger, scheduler.WithLogger, or log/slog's
// default for a task that is not in a scheduler); it never reaches the
// caller, and no scope's error handler sees it.
func (t *Task[T]) OnDone(f func(T, error)) {
	if f == nil {
		return
	}
	core.OnDone(&t.base, func() { f(t.val, core.Err(&t.base)) })
}

// Cancel cancels the task with cause (context.Canceled if nil). A Lazy or
// Queued task ends Canceled at once with cause as its error, and its
// function never runs. A Running task's context is canceled with that cause
// (see context.Cause); the task ends as its function decides: Canceled if it
// returns the cancellation, Succeeded or Failed otherwise. Cancel reports
// whether it changed anything: false once the task has ended or its context
// was already canceled.
func (t *Task[T]) Cancel(cause error) bool { return core.Cancel(&t.base, cause) }

// Start runs a Lazy task now on its own goroutine. For a task waiting in a
// scheduler's queue, Start is a force-run through that scheduler: the task
// runs now, over the cap, and is counted as over-cap; so is it for a Lazy
// task bound to a scheduler (NewTask). Start returns ErrStarted if the
// task is already running or has ended, and ErrHandingOver, leaving it
// Lazy, while a scheduler is taking the task and its OnCreate or OnQueue
// hooks run (Submit, NewTask, Enqueue), until the handoff: called from
// such a hook, or from a goroutine one started. The task then runs in the
// scheduler (the scheduler's Force runs it now); a Start once the handoff
// is done is a force-run.
func (t *Task[T]) Start() error { return core.Start(&t.base) }

// Options returns the task's options. The Labels map is a copy.
func (t *Task[T]) Options() Options {
	o := Options{Priority: int(core.Priority(&t.base)), Weight: int(core.Weight(&t.base))}
	if m, ok := core.Meta(&t.base).(*Options); ok {
		o = *m
		o.Weight = max(o.Weight, 1)
		o.Labels = maps.Clone(m.Labels)
	}
	return o
}

// Name returns the task's name option.
func (t *Task[T]) Name() string {
	if m, ok := core.Meta(&t.base).(*Options); ok {
		return m.Name
	}
	return ""
}

// Timings returns when the task was created, queued, started and finished;
// steps that have not happened are zero times. Timings are kept only when
// asked for (WithTimings, a timeout, or the scheduler's: see
// scheduler.WithTimings); a task that keeps none reads no clock, and its
// Timings are all zero.
func (t *Task[T]) Timings() Timings {
	c, q, s, f := core.Timings(&t.base)
	return Timings{Created: c, Queued: q, Started: s, Finished: f}
}

// Info returns a snapshot of the task for hooks, logs and monitors.
func (t *Task[T]) Info() Info {
	// Each field is read on its own; read them again if the task moved on
	// meanwhile, so that State, Timings and Err tell of one moment (a task
	// changes state a bounded number of times, so this ends).
	for {
		st := t.State()
		// Ended waits out a cancel under way (whose State reads Canceled
		// already, before its end is stamped): an ended task is read
		// whole, after its end.
		ended := core.Ended(&t.base)
		if ended {
			st = t.State()
		}
		i := Info{Options: t.Options(), Scope: core.OwnerName(&t.base), State: st, Timings: t.Timings(), OverCap: core.OverCap(&t.base), Promoted: core.Promoted(&t.base), Rejected: core.Rejected(&t.base), Panicked: core.Panicked(&t.base)}
		if ended {
			i.Err = core.Err(&t.base)
		}
		if t.State() == st {
			return i
		}
	}
}

func (t *Task[T]) sealed() {}

// LogValue makes a task one readable group in a log line: its name, scope,
// state, priority and labels (sorted by key).
func (i Info) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("name", i.Name)}
	if i.Scope != "" {
		attrs = append(attrs, slog.String("scope", i.Scope))
	}
	attrs = append(attrs, slog.String("state", i.State.String()), slog.Int("priority", i.Priority))
	if len(i.Labels) > 0 {
		labels := make([]slog.Attr, 0, len(i.Labels))
		for _, k := range slices.Sorted(maps.Keys(i.Labels)) {
			labels = append(labels, slog.String(k, i.Labels[k]))
		}
		attrs = append(attrs, slog.Attr{Key: "labels", Value: slog.GroupValue(labels...)})
	}
	return slog.GroupValue(attrs...)
}

// Timings are the moments of a task's life; a zero time means that step has
// not happened.
type Timings struct {
	Created, Queued, Started, Finished time.Time
}

// QueueTime is the time spent between being queued and starting (0 if either
// is missing).
func (tm Timings) QueueTime() time.Duration {
	if tm.Queued.IsZero() || tm.Started.IsZero() {
		return 0
	}
	return tm.Started.Sub(tm.Queued)
}

// RunTime is the time spent running (0 until the task has finished, or if it
// never ran).
func (tm Timings) RunTime() time.Duration {
	if tm.Started.IsZero() || tm.Finished.IsZero() {
		return 0
	}
	return tm.Finished.Sub(tm.Started)
}

// Info is a snapshot of a task, as hooks and snapshots see it.
type Info struct {
	Options
	// Scope is the name of the scope the task was queued or bound in; ""
	// for a task of no scheduler.
	Scope   string
	State   State
	Timings Timings
	// Err is the task's error once it has ended; nil before.
	Err error
	// OverCap reports that the task runs over its scheduler's cap (or, once
	// it has ended, ended so): it was force-run, or it is back from a wait
	// cut short by its context while its slot was taken, until the slot is
	// free again (then OverCap turns false).
	OverCap bool
	// Promoted reports that the task was promoted to the head of its
	// scope's queue (Scheduler.Promote) while it waited.
	Promoted bool
	// Rejected reports that the scheduler the task was made for refused it
	// (Submit returned it ended, with its error: bad input, a closed scope,
	// a full queue, a weight above the cap): it was never queued (its
	// scheduler's OnQueue hooks may have seen it handed over). Its
	// State is Failed or Canceled, and the scheduler's Stats count it
	// under Rejected, not under that state.
	Rejected bool
	// Panicked reports that the task's own function panicked: its error is
	// the *PanicError made then. A task that returned a PanicError (another
	// task's, say) ended Failed with it, and is not Panicked.
	Panicked bool
}

// Handle is the type-erased view of a *Task[T], for code that holds tasks of
// any result type: schedulers, hooks, factories. Only *Task[T] implements
// it.
type Handle interface {
	// State returns the task's current state.
	State() State
	// Done returns a channel closed once the task has ended.
	Done() <-chan struct{}
	// Wait waits for the end of the task or of ctx; see Task.Await.
	Wait(ctx context.Context) error
	// Err returns the task's error, or ErrNotDone before the end.
	Err() error
	// Cancel cancels the task; see Task.Cancel.
	Cancel(cause error) bool
	// Start starts the task now; see Task.Start.
	Start() error
	// Options returns the task's options.
	Options() Options
	// Name returns the task's name option.
	Name() string
	// Timings returns the task's timings.
	Timings() Timings
	// Info returns a snapshot of the task.
	Info() Info
	sealed()
}

var _ Handle = (*Task[int])(nil)

// HandleOf returns the handle of the task whose function received ctx (or a
// context derived from it), or nil outside a task.
func HandleOf(ctx context.Context) Handle {
	c := core.FromContext(ctx)
	if c == nil {
		return nil
	}
	h, _ := core.HandleOf(c).(Handle)
	return h
}
