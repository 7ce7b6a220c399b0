package core

import (
	"context"
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

// flagClockMade marks a task whose created time is in its binding's
// Timebase units: a scheduler with a clock made it (Restamp). A task made
// elsewhere and handed over keeps its created time on the runtime's clock.
const flagClockMade = 1 << 12

// Timebase is a Clock with the origin its Now units count from. A nil
// *Timebase is the runtime's clock: Now, At, Time and AfterFunc then are
// the package's Now and At, time.Now and time.AfterFunc, so callers test
// for nil once, or not at all.
type Timebase struct {
	clk  Clock
	base time.Time
}

// NewTimebase returns a Timebase on c, counting from c's current time.
func NewTimebase(c Clock) *Timebase { return &Timebase{clk: c, base: c.Now()} }

// Now returns the clock's time in the units tasks store: nanoseconds since
// the base, plus 1, never below 1 (a clock set back before its base reads
// as the base).
func (tb *Timebase) Now() int64 {
	if tb == nil {
		return Now()
	}
	return tb.now()
}

func (tb *Timebase) now() int64 { return max(int64(tb.clk.Now().Sub(tb.base))+1, 1) }

// At converts a Now value of tb into a time on tb's clock; 0 gives the
// zero time.
func (tb *Timebase) At(ns int64) time.Time {
	if tb == nil {
		return At(ns)
	}
	if ns == 0 {
		return time.Time{}
	}
	return tb.base.Add(time.Duration(ns - 1))
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

// Restamp stamps a task that nobody else can see yet as created now on
// tb's clock: a scheduler with a clock calls it for the tasks it makes, so
// that their timings are all on its clock. A nil tb does nothing.
func Restamp(c *Task, tb *Timebase) {
	if tb == nil {
		return
	}
	c.created = tb.now()
	c.state.Or(flagClockMade)
}

// WithClockDeadline is context.WithDeadline on tb's clock: the context is
// canceled with context.DeadlineExceeded (as Err and as cause) when tb's
// clock reaches d, and its Deadline reports d (or the parent's, if
// earlier). cancel cancels it with a cause and disarms the clock's timer.
func WithClockDeadline(parent context.Context, tb *Timebase, d time.Time) (context.Context, context.CancelCauseFunc) {
	in, cancel := context.WithCancelCause(parent)
	cc := &clockCtx{in: in, deadline: d}
	expire := func() {
		if in.Err() == nil {
			cc.expired.Store(true)
			cancel(context.DeadlineExceeded)
		}
	}
	left := d.Sub(tb.Time())
	if left <= 0 {
		expire()
		return cc, cancel
	}
	stop := tb.AfterFunc(left, expire)
	return cc, func(cause error) {
		cancel(cause)
		stop()
	}
}

// clockCtx is the context of WithClockDeadline. It hides the context
// package's cancelCtx while it is live, so that contexts derived from it
// register through AfterFunc and read its Err (DeadlineExceeded once
// expired) rather than the inner context's (Canceled); once canceled it
// shows the inner one, so that context.Cause reads the cause.
type clockCtx struct {
	in       context.Context
	deadline time.Time
	expired  atomic.Bool
}

func (c *clockCtx) Deadline() (time.Time, bool) {
	if pd, ok := c.in.Deadline(); ok && pd.Before(c.deadline) {
		return pd, true
	}
	return c.deadline, true
}

func (c *clockCtx) Done() <-chan struct{} { return c.in.Done() }

func (c *clockCtx) Err() error {
	err := c.in.Err()
	if err != nil && c.expired.Load() {
		return context.DeadlineExceeded
	}
	return err
}

func (c *clockCtx) Value(key any) any {
	if key == cancelCtxKey() && c.in.Err() == nil {
		return nil
	}
	return c.in.Value(key)
}

// AfterFunc lets context.WithCancel(c) and context.AfterFunc register
// without a goroutine (the context package looks for this method).
func (c *clockCtx) AfterFunc(f func()) func() bool { return context.AfterFunc(c.in, f) }

func (c *clockCtx) String() string { return "lazysched.clockDeadline" }
