package core

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Clock is a source of time other than the runtime's: the scheduler's
// WithClock hands one down (scheduler.Clock has the same method set).
type Clock interface {
	// Now returns the clock's current time.
	Now() time.Time
	// AfterFunc calls f on a goroutine of its own once d has passed on
	// the clock; stop prevents the call and reports whether it did.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// flagClockMade marks a task whose created time is on its scheduler's
// clock: a scheduler with a clock made it (KeepTimings). A task made elsewhere
// and handed over keeps its created time on the runtime's clock. The units
// are the same either way; only what compares the created time with the
// scheduler's present (Snapshot's ages) needs to know.
const flagClockMade = 1 << 12

// Timebase reads a Clock in the units tasks store (Now's), which At turns
// back into the clock's times. A nil *Timebase is the runtime's clock:
// Now, Time and AfterFunc then are the package's Now, time.Now and
// time.AfterFunc, so callers test for nil once, or not at all.
type Timebase struct {
	clk Clock
}

// NewTimebase returns a Timebase on c.
func NewTimebase(c Clock) *Timebase { return &Timebase{clk: c} }

// Now returns the clock's time in the units tasks store. The units hold
// the times from about 73 years before the process started to about 73
// years after it; a clock outside that range reads as its nearest end.
func (tb *Timebase) Now() int64 {
	if tb == nil {
		return Now()
	}
	return tb.now()
}

func (tb *Timebase) now() int64 { return unitsOf(tb.clk.Now()) }

// unitsOf converts a time into Now units, clamped to [1, maxUnits]. The
// difference is taken on the wall clock: a clock's times carry no
// monotonic reading.
func unitsOf(t time.Time) int64 {
	d := int64(t.Sub(base))
	switch {
	case d <= 1-epoch:
		return 1
	case d >= maxUnits-epoch:
		return maxUnits
	}
	return d + epoch
}

// Time returns the clock's current time.
func (tb *Timebase) Time() time.Time {
	if tb == nil {
		return time.Now()
	}
	return tb.clk.Now()
}

// AfterFunc calls f on a goroutine of its own once d has passed on the
// clock. A d <= 0 calls it at once, as time.AfterFunc does, without asking
// the clock: a mock clock would wait for its next move.
func (tb *Timebase) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	if tb == nil {
		return time.AfterFunc(d, f).Stop
	}
	if d <= 0 {
		var claimed atomic.Bool
		go func() {
			if claimed.CompareAndSwap(false, true) {
				f()
			}
		}()
		return func() bool { return claimed.CompareAndSwap(false, true) }
	}
	return tb.clk.AfterFunc(d, f)
}

// nowFor reads the clock of binding b (nil: an unbound task, the runtime's
// clock). It is too big to inline: the hot paths (finish, Admit) spell it
// out, so that with no clock they pay one predictable branch over Now.
func nowFor(b *Binding) int64 {
	if b != nil && b.Clock != nil {
		return b.Clock.now()
	}
	return Now()
}

// timebaseOf returns the Timebase of c's binding, nil for the runtime's.
func timebaseOf(c *Task) *Timebase {
	if b := c.owner.Load(); b != nil {
		return b.Clock
	}
	return nil
}

// CreatedOnClock reports whether c's created time is on its binding's
// clock (KeepTimings with a Timebase), rather than on the runtime's.
func CreatedOnClock(c *Task) bool { return c.state.Load()&flagClockMade != 0 }

// WithClockDeadline is context.WithDeadline on tb's clock: the context is
// canceled with context.DeadlineExceeded (as Err and as cause) when tb's
// clock reaches d, and its Deadline reports d (or the parent's, if
// earlier). cancel cancels it with a cause and disarms the clock's timer.
//
// The context returned is one of the context package's (WithCancelCause):
// contexts derived from it behave as usual. Its parent is a clockTrigger
// over parent, which ends it with DeadlineExceeded, or with parent's error
// and cause, in the same call as the clock's timer or cancel: so a context
// derived from it reads DeadlineExceeded as its Err, as one derived from
// context.WithDeadline does.
func WithClockDeadline(parent context.Context, tb *Timebase, d time.Time) (context.Context, context.CancelCauseFunc) {
	tr := &clockTrigger{parent: parent, deadline: d, done: make(chan struct{})}
	ctx, cancelCtx := context.WithCancelCause(tr)
	stopParent := context.AfterFunc(parent, func() { tr.fire(parent.Err(), true) })
	stopTimer := func() bool { return false }
	if left := d.Sub(tb.Time()); left > 0 {
		stopTimer = tb.AfterFunc(left, func() { tr.fire(context.DeadlineExceeded, false) })
	} else {
		tr.fire(context.DeadlineExceeded, false)
	}
	return ctx, func(cause error) {
		if err := parent.Err(); err != nil {
			tr.fire(err, true) // parent's error, not Canceled, as for a child of a cancelCtx
		}
		cancelCtx(cause)
		stopTimer()
		stopParent()
	}
}

// clockTrigger is the parent of WithClockDeadline's context: it ends when
// the clock reaches the deadline or when its parent ends, and then calls
// the functions registered with AfterFunc (the context package registers
// its child that way, as it does with any parent that is not one of its
// own) on the goroutine that ended it.
type clockTrigger struct {
	parent   context.Context
	deadline time.Time
	done     chan struct{}

	mu         sync.Mutex
	err        error // set once, when it ends
	fromParent bool  // it ended because its parent did
	afters     map[*afterFunc]struct{}
}

func (t *clockTrigger) fire(err error, fromParent bool) {
	t.mu.Lock()
	if t.err != nil {
		t.mu.Unlock()
		return
	}
	t.err, t.fromParent = err, fromParent
	close(t.done)
	afters := t.afters
	t.afters = nil
	t.mu.Unlock()
	for a := range afters {
		a.f()
	}
}

func (t *clockTrigger) Deadline() (time.Time, bool) {
	if pd, ok := t.parent.Deadline(); ok && pd.Before(t.deadline) {
		return pd, true
	}
	return t.deadline, true
}

func (t *clockTrigger) Done() <-chan struct{} { return t.done }

func (t *clockTrigger) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Value answers the context package's cancelCtx key with nothing while the
// trigger is live (so that its child registers through AfterFunc) and
// after it expired (so that context.Cause reads Err); after its parent
// ended, with the parent's, so that Cause reads the parent's cause.
func (t *clockTrigger) Value(key any) any {
	if key == cancelCtxKey() {
		t.mu.Lock()
		fromParent := t.fromParent
		t.mu.Unlock()
		if !fromParent {
			return nil
		}
	}
	return t.parent.Value(key)
}

// AfterFunc registers f to run when the trigger ends (the context package
// looks for this method).
func (t *clockTrigger) AfterFunc(f func()) func() bool {
	t.mu.Lock()
	if t.err != nil {
		t.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f}
	if t.afters == nil {
		t.afters = make(map[*afterFunc]struct{})
	}
	t.afters[a] = struct{}{}
	t.mu.Unlock()
	return func() bool {
		t.mu.Lock()
		defer t.mu.Unlock()
		_, ok := t.afters[a]
		delete(t.afters, a)
		return ok
	}
}

func (t *clockTrigger) String() string { return "lazysched.clockDeadline" }
