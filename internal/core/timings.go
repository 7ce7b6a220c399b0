package core

import "sync/atomic"

// Timings are opt-in: a task keeps them only when something asks (the
// task's own option, its scheduler's, a scope with hooks, a clock, aging
// or a timeout), so that the common task reads no clock and carries no
// four words it never uses. A task that keeps them has the flag below and
// its timings in its extension, made before the flag is set.

// flagTimed marks a task that keeps its timings (ext.t).
const flagTimed = 1 << 14

// timings are a task's moments in Now units. Each is written before the
// state that makes it meaningful is stored, so a reader that loaded that
// state may read it.
type timings struct {
	created, queued, finished int64
	// started is atomic: a task with start hooks restamps it once they
	// have run, while other goroutines may read its timings.
	started atomic.Int64
}

// tm returns c's timings, or nil if it keeps none.
func tm(c *Task) *timings {
	if c.state.Load()&flagTimed == 0 {
		return nil
	}
	return &c.x.Load().t
}

// Timed reports whether c keeps its timings.
func Timed(c *Task) bool { return c.state.Load()&flagTimed != 0 }

// KeepTimings makes a task that nobody else can see yet keep its timings,
// created now on tb's clock (nil: the runtime's): a scheduler calls it for
// the tasks it makes when its timings are asked for. A task that keeps
// them already is stamped again on tb's clock if tb is not nil.
func KeepTimings(c *Task, tb *Timebase) {
	if c.state.Load()&flagTimed != 0 && tb == nil {
		return
	}
	x := getX(c)
	x.t.created = tb.Now()
	flags := uint32(flagTimed)
	if tb != nil {
		flags |= flagClockMade
	}
	c.state.Or(flags)
}

// Order is the owner's FIFO key for c, as SetOrder stored it.
func Order(c *Task) int64 { return c.order }

// SetOrder stores c's FIFO key: a sequence number, or its queued time in
// Now units for an owner that ages priorities. The owner sets it before it
// queues c; the queue reads it under the owner's lock.
func SetOrder(c *Task, k int64) { c.order = k }
