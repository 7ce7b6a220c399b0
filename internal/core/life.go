package core

import (
	"context"
	"errors"
)

// Cancel cancels the task with cause (context.Canceled if nil). A Lazy or
// Queued task ends Canceled without running; a Running task sees its context
// canceled. It reports whether the call changed anything.
func Cancel(c *Task, cause error) bool {
	if cause == nil {
		cause = context.Canceled
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
			return cancelCtx(c, context.Canceled, cause)
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
func EndUnstarted(c *Task, st State, err error) bool {
	if _, ok := transition(c, toCanceled, Lazy); ok {
		publish(c, st, err)
		return true
	}
	return false
}

// Start runs a Lazy task now on its own goroutine, or force-runs a Queued
// one through its owner.
func Start(c *Task) error {
	for {
		s := c.state.Load()
		switch State(s & stateMask) {
		case Lazy:
			if b := c.owner.Load(); b != nil {
				err := b.Owner.Force(c)
				if err != nil && StateOf(c) != Lazy {
					continue
				}
				return err
			}
			if c.state.CompareAndSwap(s, s&^stateMask|uint32(toRunning)) {
				c.started = Now()
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
		c.started = c.created
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
	c.queued = c.created
	c.state.Store(uint32(st) | flags)
}

// Bind gives a fresh Lazy task (one nobody else can see yet) its owner, so
// that Start, Cancel and the owner's closing go through the owner.
func Bind(c *Task, b *Binding) { c.owner.Store(b) }

// Bound returns the owner binding of the task (nil if none).
func Bound(c *Task) *Binding { return c.owner.Load() }

// Enqueue moves a Lazy task to Queued, owned by b. Owners call it under their
// lock before linking the task; it reports false if the task was not Lazy.
// A task bound to an owner may only be enqueued there.
func Enqueue(c *Task, b *Binding, now int64) bool {
	if _, ok := transition(c, toQueued, Lazy); !ok {
		return false
	}
	c.owner.Store(b)
	c.queued = now
	setState(c, Queued)
	return true
}

// Admit moves a Queued task to Running, started at now (0: read the clock).
// Owners call it under their lock; over marks a force-run over the cap.
func Admit(c *Task, over bool, now int64) bool {
	if now == 0 {
		now = Now()
	}
	for {
		s := c.state.Load()
		if State(s&stateMask) != Queued {
			return false
		}
		c.started = now
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
func AdmitLazy(c *Task, b *Binding, over bool) bool {
	if _, ok := transition(c, toRunning, Lazy); !ok {
		return false
	}
	c.owner.Store(b)
	c.queued = Now()
	c.started = c.queued
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

// Queued returns the queued time in Now units (an owner's FIFO key).
func QueuedAt(c *Task) int64 { return c.queued }

// Execute runs a Running task's function on the calling goroutine, captures
// panics and runtime.Goexit, hands the slot back to the owner and publishes
// the result. It returns the next task the owner admitted for this
// goroutine, or nil.
func Execute(c *Task) (next *Task) {
	armTimer(c)
	if c.state.Load()&flagHooked != 0 {
		c.owner.Load().Owner.Starting(c)
	}
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
						panic(r)
					}
					return
				}
				if r := recover(); r != nil {
					err = NewPanicError(r)
					recovered = true
				}
			}
		}()
		err = c.fn.Call(c, (*taskCtx)(c))
		normal = true
	}()
	return finish(c, classify(c, err), err, false)
}

func finish(c *Task, st State, err error, exiting bool) *Task {
	c.finished = Now()
	endCtx(c)
	var next *Task
	b := c.owner.Load()
	if b != nil {
		next = b.Owner.Release(c, st, err, exiting)
	} else {
		PublishLocked(c, st, err)
	}
	DrainCallbacks(c)
	if b != nil {
		b.Owner.Finished(c, st, err)
	}
	// A goroutine the function left behind may have asked for the
	// context's Done between endCtx and publish; close it now.
	endCtx(c)
	return next
}

// classify tells a failure from a cancellation: a task whose context was
// canceled (not timed out) and that returned that cancellation ends
// Canceled; any other error is a failure, and nil is a success whatever
// happened to the context.
func classify(c *Task, err error) State {
	if err == nil {
		return Succeeded
	}
	if !errors.Is(err, context.Canceled) {
		ctx := (*taskCtx)(c)
		cause := context.Cause(ctx)
		if cause == nil || errors.Is(cause, context.DeadlineExceeded) || !errors.Is(err, cause) {
			return Failed
		}
		return Canceled
	}
	if (*taskCtx)(c).Err() == nil {
		return Failed // the function returned context.Canceled on its own
	}
	return Canceled
}

// Lender is implemented by owners that lend a running task's slots while
// its function waits for another task (invariant I9).
type Lender interface {
	// Lend frees c's slots while c waits; Reclaim takes them back (or runs
	// c over the cap, counted) once the wait ends.
	Lend(c *Task)
	Reclaim(c *Task)
}

// BeginWait is called by Await before it blocks. If ctx belongs to a running
// task whose owner lends slots, the slot is lent and the returned function
// takes it back; otherwise it returns nil.
func BeginWait(ctx context.Context) func() {
	cur := FromContext(ctx)
	if cur == nil || State(cur.state.Load()&stateMask) != Running {
		return nil
	}
	b := cur.owner.Load()
	if b == nil {
		return nil
	}
	l, ok := b.Owner.(Lender)
	if !ok {
		return nil
	}
	l.Lend(cur)
	return func() { l.Reclaim(cur) }
}

// Created returns the creation time in Now units.
func Created(c *Task) int64 { return c.created }

// Finished returns the finish time in Now units; owners read it in Release
// as the current time, which saves a clock read (55 ns on a kvm-clock VM).
func Finished(c *Task) int64 { return c.finished }

// SetOverCap marks or unmarks a running task as holding its slots over the
// cap; owners call it under their lock (slot lending).
func SetOverCap(c *Task, over bool) {
	if over {
		c.state.Or(flagOverCap)
	} else {
		c.state.And(^uint32(flagOverCap))
	}
}

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
