package scheduler

import (
	"context"

	"github.com/lazysched/lazysched/internal/core"
)

// owner is a Scope seen as the core.Owner of its tasks; it keeps the core's
// methods out of the Scope's exported method set.
type owner Scope

func (o *owner) scope() *Scope { return (*Scope)(o) }

func (o *owner) Context() context.Context { return o.ctx }

func (o *owner) Release(c *core.Task, st core.State, err error, exiting bool) *core.Task {
	sc := o.scope()
	s := sc.s
	w := core.Weight(c)
	s.lock()
	if core.OverCap(c) {
		s.forced -= w
		s.overTasks--
	} else if core.PeekOwnerWord(c) == 0 {
		sc.putPath(w)
	}
	s.running--
	sc.running.Remove(c)
	switch st {
	case core.Succeeded:
		s.stats.succeeded++
	case core.Failed:
		s.stats.failed++
		sc.failLocked(err)
	default:
		s.stats.canceled++
	}
	core.PublishLocked(c, st, err)
	sc.doneTaskLocked()
	var next *core.Task
	if !exiting && s.queued > 0 {
		next = s.admitOne(core.Finished(c))
	}
	s.admitAllLocked()
	s.unlock()
	return next
}

func (o *owner) Finished(c *core.Task, st core.State, err error) {
	sc := o.scope()
	if st == core.Failed {
		if sc.policy == supervise {
			sc.report(infoOf(c), err)
		}
		sc.s.flushDeferred()
	}
	if sc.hooked {
		sc.fire(c, hookDone)
	}
}

func (o *owner) Starting(c *core.Task) { o.scope().fire(c, hookStart) }

func (o *owner) Cancel(c *core.Task, cause error) bool {
	sc := o.scope()
	s := sc.s
	s.lockFor(c)
	if !sc.cancelOneLocked(c, cause) {
		s.unlock()
		return false
	}
	s.admitAllLocked()
	s.unlock()
	core.DrainCallbacks(c)
	if sc.hooked {
		sc.fire(c, hookDone)
	}
	return true
}

// cancelOneLocked ends a bound Lazy or a Queued task of sc Canceled.
func (sc *Scope) cancelOneLocked(c *core.Task, cause error) bool {
	return sc.endUnstartedLocked(c, core.Canceled, cause)
}

// endUnstartedLocked ends a bound Lazy or a Queued task of sc in st
// (Canceled or Failed) with err, without running it.
func (sc *Scope) endUnstartedLocked(c *core.Task, st core.State, err error) bool {
	s := sc.s
	was, ok := core.CancelLocked(c)
	if !ok {
		return false
	}
	if was == core.Queued {
		sc.unqueueLocked(c)
		sc.doneTaskLocked()
	} else if core.Bound(c) == &sc.bind {
		sc.lazy.Remove(c) // a bound Lazy task is in sc's lazy list
	}
	if st == core.Failed {
		s.stats.failed++
	} else {
		s.stats.canceled++
	}
	core.PublishLocked(c, st, err)
	return true
}

func (o *owner) Force(c *core.Task) error { return o.scope().force(c) }

func (o *owner) Report(c *core.Task, err error) {
	o.s.logger().Error("lazysched: done callback panicked", "scope", o.name, "task", infoOf(c).Name, "err", err)
}

// Lend frees a running task's slots while its function awaits another task,
// so that nested fan-out on one cap cannot deadlock (I9).
func (o *owner) Lend(c *core.Task) {
	sc := o.scope()
	s := sc.s
	w := core.Weight(c)
	s.lock()
	n := core.OwnerWord(c)
	*n++
	if *n == 1 {
		if core.OverCap(c) {
			s.forced -= w
			s.overTasks--
			core.SetOverCap(c, false)
		} else {
			sc.putPath(w)
		}
		s.admitAllLocked()
	}
	s.unlock()
}

// Reclaim takes the lent slots back once the wait ends, or lets the task
// run on over the cap, counted, if they are taken.
func (o *owner) Reclaim(c *core.Task) {
	sc := o.scope()
	s := sc.s
	w := core.Weight(c)
	s.lock()
	n := core.OwnerWord(c)
	*n--
	// A wait that outlives its task (a goroutine the task left behind)
	// must not take back the slot that Release already skipped.
	if *n == 0 && core.StateOf(c) == core.Running {
		if sc.fitsPath(w) {
			sc.takePath(w)
		} else {
			core.SetOverCap(c, true)
			s.forced += w
			s.overTasks++
		}
	}
	s.unlock()
}

// cancelTreeLocked cancels sc and its subtree with cause: the scopes are
// marked dead, their queued and bound Lazy tasks end Canceled (published
// under the lock), their contexts are canceled. It returns the ended tasks,
// whose callbacks and hooks finishOutside runs once the lock is released.
// lazyToo=false leaves Lazy tasks alone.
func (sc *Scope) cancelTreeLocked(cause error, lazyToo bool) []*core.Task {
	var ended []*core.Task
	sc.walk(func(x *Scope) {
		x.sealLocked() // later submits take the locked path, refused
		if !x.dead {
			x.dead = true
			x.cause = cause
		}
		for c := x.q.Peek(); c != nil; c = x.q.Peek() {
			if !x.cancelOneLocked(c, cause) {
				break
			}
			ended = append(ended, c)
		}
		if lazyToo {
			ended = x.cancelLazyLocked(cause, ended)
		}
		if x.stopTTL != nil {
			x.stopTTL()
		}
		x.cancel(cause)
	})
	return ended
}

func (sc *Scope) cancelLazyLocked(cause error, ended []*core.Task) []*core.Task {
	var lazy []*core.Task
	sc.lazy.Each(func(c *core.Task) { lazy = append(lazy, c) })
	for _, c := range lazy {
		if sc.cancelOneLocked(c, cause) {
			ended = append(ended, c)
		}
	}
	return ended
}

// walk calls f for sc and every scope below it, parents first.
func (sc *Scope) walk(f func(*Scope)) {
	f(sc)
	for ch := range sc.children {
		ch.walk(f)
	}
}

// finishOutside runs the callbacks and done hooks of tasks ended under the
// lock.
func (s *Scheduler) finishOutside(ended []*core.Task) {
	for _, c := range ended {
		core.DrainCallbacks(c)
		if sc := s.scopeOf(c); sc != nil && sc.hooked {
			sc.fire(c, hookDone)
		}
	}
}
