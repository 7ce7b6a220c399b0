package core

import (
	"context"
	"slices"
)

// flagAwaited marks a task that running tasks, which lent their slots,
// wait for: when it ends, its owner may hand them their slots back before
// it admits a queued task (TakeAwaiters).
const flagAwaited = 1 << 13

// BeginWaitFor is BeginWait for a wait on the task c: if the slot is lent,
// the waiter is also recorded on c (Lender.LendWaitingFor), so that c's
// owner, when c ends, can give the waiter its slots back ahead of the
// queue (a task back from a wait runs before tasks that were queued
// meanwhile). The returned function forgets the record and takes the slots
// back, if they were not given back already (Lender.ReclaimWaitFor), under
// the lock under which c ends: so c either ended before, and gave them
// back, or ends after, and finds no waiter. It returns nil if nothing was
// lent.
func BeginWaitFor(ctx context.Context, c *Task) func() {
	if c == nil {
		return nil
	}
	cur, l := lenderOf(ctx)
	if l == nil || !l.LendWaitingFor(cur, c) {
		return nil // no lender, or c has ended: the wait returns at once
	}
	return func() { l.ReclaimWaitFor(cur, c, ctx.Err() != nil) }
}

// ForgetAwaiter undoes AddAwaiter(c, cur), if TakeAwaiters has not taken
// it; owners call it under their lock.
func ForgetAwaiter(c, cur *Task) {
	x := getX(c)
	x.mu.Lock()
	if i := slices.Index(x.awaiters, cur); i >= 0 {
		x.awaiters = slices.Delete(x.awaiters, i, i+1)
	}
	x.mu.Unlock()
}

// AddAwaiter records cur as a running task that lent its slots to wait
// for c (TakeAwaiters returns it when c ends). It reports false, recording
// nothing, if c has ended.
func AddAwaiter(c, cur *Task) bool {
	x := getX(c)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ended {
		return false
	}
	x.awaiters = append(x.awaiters, cur)
	c.state.Or(flagAwaited)
	return true
}

// TakeAwaiters returns, and forgets, the running tasks that lent their
// slots to wait for c; owners call it in Release, under their lock. It
// costs one load for a task nobody waits for that way.
func TakeAwaiters(c *Task) []*Task {
	if c.state.Load()&flagAwaited == 0 {
		return nil
	}
	x := c.x.Load()
	x.mu.Lock()
	ws := x.awaiters
	x.awaiters = nil
	x.mu.Unlock()
	return ws
}

// LentOnce reports whether c has lent its slots once, not in a nested wait;
// owners call it under their lock.
func LentOnce(c *Task) bool { return getX(c).owner == 1 }
