package core

import (
	"context"
	"errors"
	"runtime"
	"unsafe"
)

// Cancel cancels the task with cause (context.Canceled if nil). A Lazy or
// Queued task ends Canceled without running; a Running task sees its context
// canceled. It reports whether the call changed anything.
func Cancel(c *Task, cause error) bool { return cancelAs(c, context.Canceled, cause, false) }

// cancelCarried cancels the task because ctx, the context it carries, is
// done: a Running task's context then reads ctx's error (DeadlineExceeded
// once a carried deadline passed) and cause, and the task, if it returns
// them, ends Canceled, not Failed as for its own timeout.
func cancelCarried(c *Task, ctx context.Context) bool {
	return cancelAs(c, ctx.Err(), context.Cause(ctx), true)
}

// cancelAs is Cancel where a Running task's context reads err (nil:
// context.Canceled); outside is cancelCtxFrom's.
func cancelAs(c *Task, err, cause error, outside bool) bool {
	if err == nil {
		err = context.Canceled
	}
	if cause == nil {
		cause = err
	}
	for {
		s := c.state.Load()
		switch State(s & stateMask) {
		case Lazy:
			if b := c.owner.Load(); b != nil {
				if b.Owner.Cancel(c, cause) {
					return true
				}
				continue
			}
			if c.state.CompareAndSwap(s, s&^stateMask|uint32(toCanceled)) {
				publish(c, Canceled, cause)
				return true
			}
		case Queued:
			// A Queued task always has an owner; load it once all the same.
			if b := c.owner.Load(); b != nil && b.Owner.Cancel(c, cause) {
				return true
			}
		case Running:
			return cancelCtxFrom(c, err, cause, outside)
		case toQueued, toRunning:
			// another goroutine is moving the task; its move is short
			// and ends in a state this loop handles.
		default:
			return false
		}
	}
}

// CancelLocked is Owner.Cancel's state change: under the owner's lock it
// moves a Queued or bound Lazy task to toCanceled, and returns the state it
// moved the task from (to unlink it from the right list) and whether it
// did; the owner then unlinks the task, calls PublishLocked(c, Canceled,
// cause) and, outside its lock, DrainCallbacks.
func CancelLocked(c *Task) (State, bool) {
	old, ok := transition(c, toCanceled, Queued, Lazy)
	return State(old & stateMask), ok
}

// EndUnstarted ends an unbound Lazy task in st (Canceled or Failed) with
// err, without running it: Submit's own task, refused. It reports false if
// the task was not Lazy.
func EndUnstarted(c *Task, st State, err error) bool { return EndUnstartedOn(c, nil, st, err) }

// EndUnstartedOn is EndUnstarted with the end stamped on tb's clock (nil:
// the runtime's), for a task that a scheduler with a clock made.
func EndUnstartedOn(c *Task, tb *Timebase, st State, err error) bool {
	return endUnstarted(c, tb, st, err, 0)
}

func endUnstarted(c *Task, tb *Timebase, st State, err error, mark uint32) bool {
	if _, ok := transitionOr(c, toCanceled, mark, Lazy); ok {
		if t := tm(c); t != nil && tb != nil {
			t.finished = tb.now()
		}
		publish(c, st, err)
		return true
	}
	return false
}

// EndRejectedOn is EndUnstartedOn for a task its scheduler refused: the
// Rejected mark is set by the compare-and-swap that claims the task, so
// the task is marked if and only if the refusal ends it (whoever sees the
// end sees the mark). It reports false, changing nothing, if c is not
// Lazy: another goroutine (one a hook gave the handle to) ended it or
// handed it over first.
func EndRejectedOn(c *Task, tb *Timebase, st State, err error) bool {
	return endUnstarted(c, tb, st, err, flagRejected)
}

// Settled waits (yielding) until c is in no transit state: whoever moves
// it is between two of its own steps, as in a claimed inbox push (between
// EnqueueInbox and InboxPushed or UndoInbox), a force-run's start or a
// cancel's publish. It returns c's state then.
func Settled(c *Task) State {
	for {
		st := State(c.state.Load() & stateMask)
		if st != toQueued && st != toRunning && st != toCanceled {
			return st
		}
		runtime.Gosched()
	}
}

// InboxView reads c's state word once for an owner that has taken its
// lock to act on c: st is c's public state, transit says that c has been
// claimed for an inbox and its submitter has not finished the push
// (EnqueueInbox's transit; st reads Lazy then, and becomes Queued without
// any lock), and inbox that c is Queued but still waits in an inbox. From
// one load, so that what the caller then does with st cannot have been
// overtaken by a push between two reads.
func InboxView(c *Task) (st State, transit, inbox bool) {
	s := c.state.Load()
	raw := State(s & stateMask)
	return publicState(s), raw == toQueued, raw == Queued && s&flagInbox != 0
}

// Start runs a Lazy task now on its own goroutine, or force-runs a Queued
// one through its owner. A task with no function (a zero lazytask.Task)
// gives ErrNilFunc.
func Start(c *Task) error {
	if !Valid(c) {
		return ErrNilFunc
	}
	for {
		s := c.state.Load()
		switch State(s & stateMask) {
		case Lazy:
			if s&flagHooking != 0 {
				return ErrHandingOver
			}
			if b := c.owner.Load(); b != nil {
				err := b.Owner.Force(c)
				if err != nil && StateOf(c) != Lazy {
					continue
				}
				return err
			}
			if c.state.CompareAndSwap(s, s&^stateMask|uint32(toRunning)) {
				if t := tm(c); t != nil {
					t.started.Store(Now())
				}
				setState(c, Running)
				go Execute(c)
				return nil
			}
		case Queued:
			b := c.owner.Load()
			if b == nil {
				continue // never for a Queued task; retry rather than crash
			}
			err := b.Owner.Force(c)
			if err != nil && StateOf(c) != Queued {
				continue // admitted or canceled meanwhile: say so as ErrStarted
			}
			return err
		case toQueued, toRunning:
		default:
			return ErrStarted
		}
	}
}

// EnqueueFresh is Enqueue for a task that nobody else can see yet (Submit's
// own): plain stores, no compare-and-swap. If run is true the task goes
// straight to Running (a free slot was found), started at its creation.
// hooked asks for Owner.Starting, as MarkHooked does.
func EnqueueFresh(c *Task, b *Binding, run, hooked bool) {
	st, flags := Queued, uint32(0)
	if run {
		if t := tm(c); t != nil {
			t.started.Store(t.created)
		}
		st = Running
	}
	if hooked {
		flags = flagHooked
	}
	enqueueFresh(c, b, st, flags)
}

// enqueueFresh hands a task nobody else can see to b in st, queued at its
// creation, with plain stores.
func enqueueFresh(c *Task, b *Binding, st State, flags uint32) {
	c.owner.Store(b)
	if t := tm(c); t != nil {
		t.queued = t.created
	}
	c.state.Store(c.state.Load() | uint32(st) | flags) // keeps flagTimed, flagClockMade
}

// Valid reports whether c was made by Init or InitFailed (a zero Task has
// no function and must not be run).
func Valid(c *Task) bool {
	// The type word alone: the function is cleared at the end (dropFn).
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&c.fn))[0] != nil
}

// BindLazy gives a Lazy task its owner, under the owner's lock, so that
// Start, Cancel and the owner's closing go through the owner. Another
// goroutine may cancel the task meanwhile (an Exposed one, through its
// carried context, or one whose handle a hook gave away).
// The owner is stored first and then the state word changed (flagBound),
// so that a cancel that read the task unbound fails its compare-and-swap
// and, looking again, finds the owner and cancels through it (it waits for
// the lock). It reports false, leaving c's owner as it was, if c is no
// longer Lazy: the cancel came first, or a force-run (a create hook's
// Scope.Force, or a goroutine it gave the handle to) ran c, with the owner
// it gave c, which must stay: the running task's end is released there.
func BindLazy(c *Task, b *Binding) bool {
	if State(c.state.Load()&stateMask) != Lazy {
		return false
	}
	old := c.owner.Swap(b)
	for {
		s := c.state.Load()
		if State(s&stateMask) != Lazy {
			// Put back what was there, unless a force-run of another
			// owner stored its own since.
			c.owner.CompareAndSwap(b, old)
			return false
		}
		if c.state.CompareAndSwap(s, s|flagBound) {
			return true
		}
	}
}

// Bound returns the owner binding of the task (nil if none).
func Bound(c *Task) *Binding { return c.owner.Load() }

// Enqueue moves a Lazy task to Queued, owned by b, queued at now (for a
// task that keeps timings; 0: read b's clock). Owners call it under their
// lock before linking the task; it reports false if the task was not Lazy.
// A task bound to an owner may only be enqueued there. timed makes a task
// made without timings keep them from now on (an owner that keeps timings
// for its tasks): it is marked only once the handoff is sure, so a refused
// handoff leaves the task as it was; its created time stays zero.
func Enqueue(c *Task, b *Binding, now int64, timed bool) bool {
	if _, ok := transition(c, toQueued, Lazy); !ok {
		return false
	}
	if timed && c.state.Load()&flagTimed == 0 {
		getX(c)
		c.state.Or(flagTimed)
	}
	c.owner.Store(b)
	if t := tm(c); t != nil {
		if now == 0 {
			now = nowFor(b)
		}
		t.queued = now
	}
	setState(c, Queued)
	return true
}

// Admit moves a Queued task to Running, started at now (for a task that
// keeps timings; 0: read the clock of its owner). Owners call it under
// their lock; over marks a force-run over the cap.
func Admit(c *Task, over bool, now int64) bool {
	t := tm(c)
	if t != nil && now == 0 {
		if b := c.owner.Load(); b != nil && b.Clock != nil {
			now = b.Clock.now()
		} else {
			now = Now()
		}
	}
	for {
		s := c.state.Load()
		if State(s&stateMask) != Queued {
			return false
		}
		if t != nil {
			t.started.Store(now)
		}
		n := s&^stateMask | uint32(Running)
		if over {
			n |= flagOverCap
		}
		if c.state.CompareAndSwap(s, n) {
			return true
		}
	}
}

// AdmitLazy moves a Lazy task straight to Running under owner b (a force-run
// of a task that was never queued). It reports false if it was not Lazy.
// timed makes a task that keeps no timings keep them from now on (its owner
// keeps timings), as Enqueue's does.
func AdmitLazy(c *Task, b *Binding, over, timed bool) bool {
	if _, ok := transition(c, toRunning, Lazy); !ok {
		return false
	}
	if timed && c.state.Load()&flagTimed == 0 {
		getX(c)
		c.state.Or(flagTimed)
	}
	c.owner.Store(b)
	if t := tm(c); t != nil {
		t.queued = nowFor(b)
		t.started.Store(t.queued)
	}
	if over {
		c.state.Or(flagOverCap)
	}
	setState(c, Running)
	return true
}

// MarkHooked asks for Owner.Starting before the task's function runs.
func MarkHooked(c *Task) { c.state.Or(flagHooked) }

// SetPromoted marks or unmarks a queued task as promoted; owners call it
// under their lock. Promoted reads the mark.
func SetPromoted(c *Task, on bool) {
	if on {
		c.state.Or(flagPromoted)
	} else {
		c.state.And(^uint32(flagPromoted))
	}
}

// Promoted reports whether the task carries the promote mark.
func Promoted(c *Task) bool { return c.state.Load()&flagPromoted != 0 }

// OrderWord is a second word of the task's extension for its owner (the
// scheduler keeps the promote order there).
func OrderWord(c *Task) *int64 { return &getX(c).order }

// QueuedAt returns the queued time in Now units, 0 for a task that keeps
// no timings.
func QueuedAt(c *Task) int64 {
	if t := tm(c); t != nil {
		return t.queued
	}
	return 0
}

// Execute runs a Running task's function on the calling goroutine, captures
// panics and runtime.Goexit, hands the slot back to the owner and publishes
// the result. It returns the next task the owner admitted for this
// goroutine, or nil.
func Execute(c *Task) (next *Task) {
	if st, err := blocked(c); err != nil {
		return finishUnrun(c, st, err)
	}
	var ctx context.Context = (*taskCtx)(c)
	if c.state.Load()&flagHooked != 0 {
		// A start hook that calls runtime.Goexit ends this goroutine here;
		// the owner runs the remaining hooks and then the task elsewhere.
		ctx = c.owner.Load().Owner.Starting(c, ctx)
	}
	return ExecuteStarted(c, ctx)
}

// RunContext returns the context c's function ran with: the one its start
// hooks returned, or its own.
func RunContext(c *Task) context.Context {
	if x := c.x.Load(); x != nil && x.runCtx != nil {
		return x.runCtx
	}
	return (*taskCtx)(c)
}

// dropRunCtx forgets the context c's function ran with, once its done
// hooks have had it: a handle kept after its task's end would otherwise
// keep what start hooks put there (a tracing span and its attributes,
// 1.4 KB a task in BenchmarkOtel) alive for as long as it is kept. Called
// by the goroutine that ran the done hooks, after them; one of those that
// called runtime.Goexit leaves it in place (the hooks after it have it).
func dropRunCtx(c *Task) {
	if x := c.x.Load(); x != nil && x.runCtx != nil {
		x.runCtx = nil
	}
}

// DropRunCtx is dropRunCtx for an owner that ran a task's done hooks on a
// goroutine of its own (AfterElsewhere).
func DropRunCtx(c *Task) { dropRunCtx(c) }

// TaskContext returns the context of c's function before the start hooks
// have seen it.
func TaskContext(c *Task) context.Context { return (*taskCtx)(c) }

// ExecuteStarted is Execute once the start hooks have run: the start is
// decided, and the function runs with ctx.
func ExecuteStarted(c *Task, ctx context.Context) (next *Task) {
	if ctx != context.Context((*taskCtx)(c)) {
		getX(c).runCtx = ctx // for the done hooks
	}
	if c.state.Load()&flagHooked != 0 {
		// The start hooks have run: the function starts now, and its
		// start time and timeout count from here (I11), not from its
		// admission.
		if t := tm(c); t != nil {
			t.started.Store(nowFor(c.owner.Load()))
		}
	}
	armTimer(c)
	var err error
	normal, recovered, crashing := false, false, false
	defer func() {
		if !normal && !recovered && !crashing {
			// runtime.Goexit: this goroutine is exiting.
			finish(c, Failed, ErrGoexit, true)
		}
	}()
	func() {
		defer func() {
			if !normal {
				if b := c.owner.Load(); b != nil && b.NoRecover {
					// Re-panic: the deferred call still runs on top of the
					// panicking frames, so the crash shows the task's stack.
					// runtime.Goexit recovers nil and is handled below.
					if r := recover(); r != nil {
						crashing = true
						if b.Foreign {
							// The task ends Failed first, its user code
							// left to a goroutine of its own (as for a
							// Goexit): if the executor recovers the panic
							// (a pond pool does by default), no task stays
							// Running and no slot is lost. On goroutines
							// of the owner's own nothing recovers it: the
							// program crashes before anyone sees the end.
							getX(c).panicked = true
							finish(c, Failed, NewPanicError(r), true)
						}
						panic(r)
					}
					return
				}
				if r := recover(); r != nil {
					err = NewPanicError(r)
					getX(c).panicked = true // published with err
					recovered = true
				}
			}
		}()
		err = c.fn.Call(c, ctx)
		normal = true
	}()
	if recovered {
		// A panic is a failure whatever its value: a task that panics
		// with its context's error after a cancellation still crashed.
		return finish(c, Failed, err, false)
	}
	st, err := classify(c, err)
	return finish(c, st, err, false)
}

// finishUnrun ends a task that was started but must not run its function:
// its timings then show no start.
func finishUnrun(c *Task, st State, err error) *Task {
	c.state.Or(flagNeverRan)
	return finish(c, st, err, false)
}

// blocked says why the task must not run its function although it was
// started: its owner's context is canceled (Canceled, with the cause: the
// scope was canceled, and the cancellation that ends its queued tasks may
// not have reached it yet), its own deadline has passed (Failed,
// context.DeadlineExceeded), or the context it carries, with cancellation,
// is canceled (Canceled, with the cause). Only a task with a deadline reads
// the clock.
func blocked(c *Task) (State, error) {
	if b := c.owner.Load(); b != nil {
		if ctx := b.Owner.Context(); ctx.Err() != nil {
			return Canceled, context.Cause(ctx)
		}
	}
	x := c.x.Load()
	if x == nil {
		return 0, nil
	}
	if !x.deadline.IsZero() && !timebaseOf(c).Time().Before(x.deadline) {
		return Failed, context.DeadlineExceeded
	}
	if x.cancels && x.carried.Err() != nil {
		return Canceled, context.Cause(x.carried)
	}
	return 0, nil
}

// finish publishes the task's end through its owner, then runs the user
// code that follows it (done callbacks, the owner's error policy and
// hooks) on this goroutine, unless it is exiting: then on another. The
// owner hands this goroutine a next task only when no such code is left.
func finish(c *Task, st State, err error, exiting bool) *Task {
	b := c.owner.Load()
	if t := tm(c); t != nil {
		if b != nil && b.Clock != nil {
			t.finished = b.Clock.now()
		} else {
			t.finished = Now()
		}
	}
	endCtx(c)
	var next *Task
	after := AfterNone
	if b != nil {
		next, after = b.Owner.Release(c, st, err, exiting)
	} else if PublishLocked(c, st, err) {
		after = AfterHere
	}
	if after == AfterHere {
		if exiting {
			Spawn(c, func() {
				AfterEnd(c, st, err)
				dropRunCtx(c)
			})
		} else {
			AfterEnd(c, st, err)
		}
	}
	if !exiting && after != AfterElsewhere {
		dropRunCtx(c)
	}
	// A goroutine the function left behind may have asked for the
	// context's Done between endCtx and publish; close it now.
	endCtx(c)
	return next
}

// classify tells a failure from a cancellation, and returns the error to
// publish. A task whose context was canceled (by Cancel, or by its parent:
// the scope's cancellation or timeout) and that returned that cancellation
// or its cause ends Canceled, with an error that matches the cause
// (errors.Is) as well as what the function returned; any other error is a
// failure, the task's own timeout included; nil is a success whatever
// happened to the context.
func classify(c *Task, err error) (State, error) {
	if err == nil {
		return Succeeded, nil
	}
	ctx := (*taskCtx)(c)
	ctxErr := ctx.Err()
	if ctxErr == nil {
		return Failed, err // it returned context.Canceled on its own
	}
	if s := c.state.Load(); s&flagCtxDone != 0 {
		if x := c.x.Load(); x != nil && x.ctxErr == context.DeadlineExceeded && x.ctxCause == nil {
			return Failed, err // its own timeout
		}
	}
	cause := context.Cause(ctx)
	if cause == nil {
		cause = ctxErr
	}
	switch {
	case errors.Is(err, cause):
		return Canceled, err
	case errors.Is(err, ctxErr):
		return Canceled, &causeError{err: err, cause: cause}
	}
	return Failed, err
}

// causeError is the error of a task that returned its context's error
// after a cancellation with a cause: it reads as what the function
// returned, and matches both that and the cause.
type causeError struct{ err, cause error }

func (e *causeError) Error() string   { return e.err.Error() + ": " + e.cause.Error() }
func (e *causeError) Unwrap() []error { return []error{e.err, e.cause} }

// Lender is implemented by owners that lend a running task's slots while
// its function waits for another task (invariant I9).
type Lender interface {
	// Lend frees c's slots while c waits; Reclaim takes them back once the
	// wait ends.
	Lend(c *Task)
	Reclaim(c *Task)
	// ReclaimNow is Reclaim for a wait that ended before what it waited
	// for, because its context ended: c goes on at once, over the cap if
	// its slots are taken (they may be held by the very tasks it means to
	// cancel next), and takes them back, ahead of the queue, as soon as
	// they are free, which ends its run over the cap.
	ReclaimNow(c *Task)
	// ReclaimWaitFor ends a wait of cur on c that LendWaitingFor began: in
	// one step under the lock under which c ends, it forgets cur as c's
	// waiter (ForgetAwaiter) and takes cur's slots back, with ReclaimNow
	// if cut (the wait's context ended) and c has not ended, else with
	// Reclaim.
	ReclaimWaitFor(cur, c *Task, cut bool)
	// LendGate is Lend for a wait on g (Gate.Begin): in one step under the
	// lock under which the owner ends its tasks, it counts the wait on g
	// (Gate.AddWait) and lends the slots of g's task, so that a watched task's
	// Release sees the wait. It reports false, lending nothing, if g's
	// task is not running.
	LendGate(g *Gate) bool
	// ReclaimGate ends a wait on g: under that lock it uncounts the wait
	// and takes the slots back, unless a watched task's end gave them back
	// already: with Reclaim (waiting for them, ahead of the queue) if g is
	// patient or the wait was its caller's last (every task it waited for
	// has ended, so none of them holds a slot) and not cut, else with
	// ReclaimNow.
	ReclaimGate(g *Gate, cut, last bool)
	// LendIdle is Lend for a task that is Running and not waiting already;
	// it reports false, lending nothing, for any other.
	LendIdle(c *Task) bool
	// LendWaitingFor is Lend for a wait on the task c: in one step under
	// the lock under which the owner ends its tasks, it records cur as a
	// waiter on c (AddAwaiter) and lends cur's slots. So c either ended
	// before (nothing is lent, and it reports false: the wait returns at
	// once) or ends after, and finds the waiter recorded and its slots
	// lent. Two steps would leave a moment where c ends unseen and its
	// freed slot goes to a queued task ahead of the waiter.
	LendWaitingFor(cur, c *Task) bool
	// Settle ends the run over the cap of g's task that the end of a wait
	// on g began (ReclaimGate), if the task is on one: it waits for its
	// slots now, ahead of the queue, as Reclaim does. A combinator calls
	// it once the last of its tasks has ended (none of them can hold a
	// slot then), so that a run over the cap that an earlier end began
	// does not go on into its caller's code (a wait on g cut short by its
	// context included: by then the tasks it meant to cancel have ended).
	// A run begun otherwise (a force-run, another wait) is left as it is.
	Settle(g *Gate)
}

// LendFor lends the slots of c, a running task that is not waiting itself,
// for a wait made on behalf of one of the tasks of its kind by code that
// has no context of its own task to name it with (a nested errgroup: its
// functions get none). Tasks of one scope with one weight take the same
// slots, so lending c's instead of the waiter's keeps the count of tasks
// running their own code within the cap. It returns the function that
// takes them back (with cut true if the wait's context ended before what
// was waited for: Lender.ReclaimNow), or nil if c's owner lends nothing or
// c is not idle.
func LendFor(c *Task) func(cut bool) {
	if c == nil {
		return nil
	}
	b := c.owner.Load()
	if b == nil {
		return nil
	}
	l, ok := b.Owner.(Lender)
	if !ok || !l.LendIdle(c) {
		return nil
	}
	return func(cut bool) {
		if cut {
			l.ReclaimNow(c)
		} else {
			l.Reclaim(c)
		}
	}
}

// BeginWait is called by a wait made with ctx before it blocks. If ctx
// belongs to a running task whose owner lends slots, the slot is lent and
// the returned function takes it back (with cut true if ctx ended before
// what was waited for: Lender.ReclaimNow); otherwise it returns nil.
// Taking the slot back waits for it as long as it takes: Shutdown's wait,
// which goes on past its grace, uses it; other waits use BeginWaitBounded.
func BeginWait(ctx context.Context) func(cut bool) { return beginWait(ctx, false) }

// untilReclaimer is a Lender whose Reclaim can be bounded: ReclaimUntil
// waits for the slots until stop closes, then goes on over the cap.
type untilReclaimer interface {
	ReclaimUntil(c *Task, stop <-chan struct{})
}

// BeginWaitBounded is BeginWait for a wait that must return when ctx ends
// even after what it waited for came (SubmitWait's: its room may come from
// the task its lend let in, which then holds the slot it waits to take
// back): if the owner can, taking the slots back waits for them only until
// ctx ends, then goes on over the cap.
func BeginWaitBounded(ctx context.Context) func(cut bool) { return beginWait(ctx, true) }

func beginWait(ctx context.Context, bounded bool) func(cut bool) {
	if reclaim := groupLend(ctx); reclaim != nil {
		return reclaim
	}
	cur, l := lenderOf(ctx)
	if l == nil {
		return nil
	}
	l.Lend(cur)
	u, _ := l.(untilReclaimer)
	if !bounded || ctx.Done() == nil {
		u = nil
	}
	return func(cut bool) {
		switch {
		case cut:
			l.ReclaimNow(cur)
		case u != nil:
			u.ReclaimUntil(cur, ctx.Done())
		default:
			l.Reclaim(cur)
		}
	}
}

// lenderOf returns the running task ctx belongs to (Current: its own, or
// the one whose goroutine runs the callback that waits) and its owner, if
// the owner lends slots; else nil, nil.
func lenderOf(ctx context.Context) (*Task, Lender) {
	cur := Current(ctx)
	if cur == nil || State(cur.state.Load()&stateMask) != Running {
		return nil, nil
	}
	b := cur.owner.Load()
	if b == nil {
		return nil, nil
	}
	l, ok := b.Owner.(Lender)
	if !ok {
		return nil, nil
	}
	return cur, l
}

// Created returns the creation time in Now units, 0 if c keeps no timings
// (or was made without them and handed to an owner that keeps them).
func Created(c *Task) int64 {
	if t := tm(c); t != nil {
		return t.created
	}
	return 0
}

// Finished returns the finish time in Now units; owners read it in Release
// as the current time, which saves a clock read (55 ns on a kvm-clock VM).
func Finished(c *Task) int64 {
	if t := tm(c); t != nil {
		return t.finished
	}
	return 0
}

// SetOverCap marks or unmarks a running task as holding its slots over the
// cap; owners call it under their lock (slot lending).
func SetOverCap(c *Task, over bool) {
	if over {
		c.state.Or(flagOverCap)
	} else {
		c.state.And(^uint32(flagOverCap))
	}
}

// SetLentOver marks a task that lent its slots while it ran over the cap,
// so that it goes back over the cap when the wait ends; owners call it
// under their lock. LentOver reads the mark.
func SetLentOver(c *Task, on bool) {
	if on {
		c.state.Or(flagLentOver)
	} else {
		c.state.And(^uint32(flagLentOver))
	}
}

// LentOver reports the mark of SetLentOver.
func LentOver(c *Task) bool { return c.state.Load()&flagLentOver != 0 }

// OwnerWord is a word in the task's extension that its owner may use under
// its own lock (the scheduler counts nested slot loans there).
func OwnerWord(c *Task) *int64 { return &getX(c).owner }

// PeekOwnerWord reads the OwnerWord without allocating: 0 if it was never
// set.
func PeekOwnerWord(c *Task) int64 {
	if x := c.x.Load(); x != nil {
		return x.owner
	}
	return 0
}
