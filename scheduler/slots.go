package scheduler

// Slot accounting per level: what a scope refuses, whether w slots fit
// the caps on a scope's path, taking and giving them back, and the count
// of each subtree's tasks.

import (
	"context"
	"fmt"
	"math"

	"github.com/lazysched/lazysched/internal/check"
	"github.com/lazysched/lazysched/internal/core"
)

// refuseLocked says why sc takes no task of weight w (0: no task, a scope).
func (sc *Scope) refuseLocked(w int64) error {
	if sc.closed {
		return ErrClosed
	}
	if sc.dead {
		return fmt.Errorf("%w: %w", ErrScopeCanceled, sc.cause)
	}
	if sc.ctx.Err() != nil {
		// Canceled through its context (the base context, a timeout); the
		// cancellation that marks it dead is on its way.
		return fmt.Errorf("%w: %w", ErrScopeCanceled, context.Cause(sc.ctx))
	}
	if sc.deadline != 0 && sc.s.now() >= sc.deadline {
		// Timed out; the cancellation that marks it dead is on its way.
		return fmt.Errorf("%w: %w", ErrScopeCanceled, context.DeadlineExceeded)
	}
	return sc.tooHeavyLocked(w)
}

// tooHeavyLocked says why w slots can never fit the caps on sc's path. On
// an Unlimited scheduler that is a weight whose sum with the slots in use
// (over-cap ones too) would overflow the count.
func (sc *Scope) tooHeavyLocked(w int64) error {
	for p := sc; p != nil && w > 0; p = p.parent {
		if !p.lim.Unlimited() && w > p.lim.Limit() {
			return fmt.Errorf("%w: weight %d, cap %d of scope %q", ErrWeightTooLarge, w, p.lim.Limit(), p.name)
		}
	}
	if root := sc.s.root; root.lim.Unlimited() && w > math.MaxInt64-root.lim.InUse()-sc.s.forced {
		return fmt.Errorf("%w: weight %d would overflow the %d slots in use", ErrWeightTooLarge, w, root.lim.InUse()+sc.s.forced)
	}
	return nil
}

// fitsBelowRoot reports whether w more slots fit in every capped scope on
// the path from sc up to, not including, the root.
func (sc *Scope) fitsBelowRoot(w int64) bool {
	for p := sc; p.parent != nil; p = p.parent {
		if !p.lim.Fits(w) {
			return false
		}
	}
	return true
}

func (sc *Scope) fitsPath(w int64) bool {
	return sc.fitsBelowRoot(w) && sc.s.root.lim.Fits(w)
}

func (sc *Scope) takePath(w int64) {
	for p := sc; p != nil; p = p.parent {
		p.lim.Take(w) // panics if w does not fit: the cap (I3) holds by construction
		if check.Enabled {
			check.That(p.lim.Unlimited() || p.lim.InUse() <= p.lim.Limit(), "scope %q: %d slots in use over its cap %d", p.name, p.lim.InUse(), p.lim.Limit())
		}
	}
}

// putPath gives back w slots on sc's path and wakes the scopes parked on
// a cap that now has room.
func (sc *Scope) putPath(w int64) {
	for p := sc; p != nil; p = p.parent {
		p.lim.Put(w)
		if p.parked.len() > 0 && p.parent != nil {
			p.wakeLocked()
		}
	}
}

// addTaskLocked counts a new queued or running task in the subtree counts.
func (sc *Scope) addTaskLocked() {
	for p := sc; p != nil; p = p.parent {
		p.tasks++
	}
}

// releasesLocked reports whether the end of one of sc's tasks may release
// something on sc's path (doneTaskLocked): a Wait (or a Shutdown) waiting
// on a scope, or a scope shut down from inside, released with its last
// task.
func (sc *Scope) releasesLocked() bool {
	for p := sc; p != nil; p = p.parent {
		if p.idle != nil || p.detach {
			return true
		}
	}
	return false
}

// doneTaskLocked uncounts c, a task of sc that ended, and wakes the waiters
// of scopes it empties (down to the tasks that are themselves waiting from
// inside). A Wait that c left behind on another goroutine no longer counts
// c as waiting from inside.
func (sc *Scope) doneTaskLocked(c *core.Task) {
	for p := sc; p != nil; p = p.parent {
		p.tasks--
		if len(p.insiders) > 0 {
			delete(p.insiders, c)
		}
		p.wakeIdleLocked()
		if p.detach && p.tasks == 0 {
			p.detachLocked()
		}
	}
}

// overCapLocked counts c, of weight w, as running over the cap (Stats.OverCap,
// Info.OverCap) until underCapLocked.
func (s *Scheduler) overCapLocked(c *core.Task, w int64) {
	core.SetOverCap(c, true)
	s.forced += w
	s.overTasks++
}

// underCapLocked ends overCapLocked's count: c holds slots under the cap
// again, or lends them.
func (s *Scheduler) underCapLocked(c *core.Task, w int64) {
	core.SetOverCap(c, false)
	s.forced -= w
	s.overTasks--
}
