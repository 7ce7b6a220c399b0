package scheduler

import (
	"fmt"
	"reflect"
	"time"

	"github.com/lazysched/lazysched/internal/core"
)

// Clock is a source of time for a scheduler (WithClock): a test's mock
// clock, say, that the test advances by hand.
//
// Now returns the clock's current time. AfterFunc calls f, on a goroutine
// of its own, once d has passed on the clock (at once if d <= 0), and
// returns a function that prevents the call if it has not happened yet,
// reporting whether it did, as time.Timer's Stop does.
//
// The clocks of github.com/benbjohnson/clock and of its fork
// github.com/filecoin-project/go-clock return a *Timer from AfterFunc:
// ClockOf adapts them.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// ClockOf adapts a clock whose AfterFunc returns a timer with a Stop method
// (the shape of github.com/benbjohnson/clock's Clock and *Mock, and of
// github.com/filecoin-project/go-clock's) to a Clock, without this package
// depending on either. The timer type is inferred from c's AfterFunc:
//
//	mock := clock.NewMock()
//	s, err := scheduler.New(scheduler.WithClock(scheduler.ClockOf(mock)))
//
// and may be given explicitly, as in scheduler.ClockOf[*clock.Timer](mock).
// A nil c gives a nil Clock, which WithClock refuses; so does a nil pointer
// in c (a *clock.Mock declared and never made with clock.NewMock).
func ClockOf[T interface{ Stop() bool }](c interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) T
}) Clock {
	if c == nil || nilPointer(c) {
		return nil
	}
	return timerClock[T]{c}
}

// timerClock is ClockOf's adapter.
type timerClock[T interface{ Stop() bool }] struct {
	c interface {
		Now() time.Time
		AfterFunc(d time.Duration, f func()) T
	}
}

func (k timerClock[T]) Now() time.Time { return k.c.Now() }

func (k timerClock[T]) AfterFunc(d time.Duration, f func()) func() bool {
	return k.c.AfterFunc(d, f).Stop
}

// WithClock drives the scheduler's time from c instead of the runtime's
// clock: the timings of its tasks (lazytask.Info's Timings), their
// timeouts and deadlines (lazytask.WithTimeout, lazytask.WithDeadline, read
// as times on c; the task's context reports its deadline on c), the
// timeouts and deadlines of its scopes (WithTimeout, WithDeadline, on c as
// well), aging (WithAging steps are steps of c) and the ages of Snapshot.
// A task made by lazytask.New and handed over with Enqueue keeps its
// creation time (and its Snapshot age) on the runtime's clock; its other
// times are on c.
//
// The runtime's clock still paces what is no part of a task's timing: the
// shutdown grace of Main and Shield's timeout (Shield takes no scheduler).
//
// c should not go backwards: start times are kept in admission order, so
// after a step back they stand still until c catches up, and a task's
// Timings read each step as no earlier than the one before it (a queue or
// run time is never negative). Its times should
// lie within about 73 years of the process's start (a mock's default,
// 1970, does); times outside read as the nearest end of that range. A nil
// c, or one that holds a nil pointer, is refused with ErrInvalidOption.
// Without WithClock the scheduler reads the runtime's clock as before, at
// the cost of one nil test where it reads it. A SchedulerOption.
func WithClock(c Clock) SchedulerOption {
	return schedOption(func(cfg *config) error {
		if c == nil || nilPointer(c) {
			return fmt.Errorf("%w: nil clock", ErrInvalidOption)
		}
		cfg.clock = c
		return nil
	})
}

// nilPointer reports whether c holds a nil pointer: a clock's methods read
// their receiver, so such a clock would panic at the first task's timing,
// far from the mistake, instead of being refused at WithClock.
func nilPointer(c any) bool {
	v := reflect.ValueOf(c)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// now reads the scheduler's clock in core.Now units. It is a call (too big
// to inline): the hot admission path spells it out instead.
func (s *Scheduler) now() int64 {
	if s.clk != nil {
		return s.clk.Now()
	}
	return core.Now()
}

// clockTimebase is the core view of a configured clock, nil for none.
func clockTimebase(c Clock) *core.Timebase {
	if c == nil {
		return nil
	}
	return core.NewTimebase(c)
}
