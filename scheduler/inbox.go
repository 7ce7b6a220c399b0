package scheduler

import (
	"runtime"

	"github.com/lazysched/lazysched/internal/core"
)

// The submit inbox. While every slot of the root cap is taken, a task
// submitted to the root scope cannot start anyway, so Submit does not take
// the scheduler's lock for it: it pushes the task onto a lock-free inbox
// (core.Inbox) and returns. Whoever takes the lock next (at the latest the
// running task that frees a slot) first moves the inbox into the root queue,
// oldest first, so admission order, counters, Snapshot and Stats are what
// they would have been had each submit taken the lock.
//
// s.hot says that the inbox may be used: it is true only while a lock is
// sure to come and take the inbox: while the root cap is full and some task
// runs (its Release), or while a goroutine lingers for work (it polls the
// inbox, and takes the lock before it exits). The lingering goroutine is
// where the locked path would have put the task too. unlock recomputes it each time the lock is let go. A submitter
// that pushed and then sees hot false takes the lock itself; unlock, having
// stored false, drains what it finds: one of the two sees the other's write
// (both are sequentially consistent atomics), so no task is left behind.
//
// Shutdown and the root's cancellation seal the inbox; a push that finds it
// sealed is undone and the submit takes the locked path, which refuses it.

// lock takes the scheduler's lock and links the inbox's tasks.
func (s *Scheduler) lock() {
	s.mu.Lock()
	if s.inbox.Pending() {
		s.drainLocked(false)
	}
}

// tryLock is lock if the lock is free.
func (s *Scheduler) tryLock() bool {
	if !s.mu.TryLock() {
		return false
	}
	if s.inbox.Pending() {
		s.drainLocked(false)
	}
	return true
}

// unlock recomputes s.hot and lets the lock go.
func (s *Scheduler) unlock() {
	hot := !s.root.lim.Unlimited() && (s.spinning > 0 || s.running > 0 && !s.root.lim.Fits(1))
	if hot {
		if !s.hot.Load() {
			s.hot.Store(true)
		}
	} else {
		if s.hot.Load() {
			s.hot.Store(false)
		}
		if s.inbox.Pending() {
			s.drainLocked(false)
			s.admitAllLocked()
		}
	}
	s.mu.Unlock()
}

// lockFor is lock for an operation on the queued task c: if c waits in
// this scheduler's inbox still (its submitter has not pushed it yet; only a
// task that hooks saw can be seen so early), it waits for the push.
func (s *Scheduler) lockFor(c *core.Task) {
	s.lock()
	for core.StateOf(c) == core.Queued && core.InInbox(c) && core.Bound(c) == &s.root.bind {
		s.mu.Unlock()
		runtime.Gosched()
		s.lock()
	}
}

// drainLocked moves the inbox's tasks into the root queue, and seals the
// inbox if seal is true.
func (s *Scheduler) drainLocked(seal bool) {
	sc := s.root
	s.inbox.Take(seal, func(c *core.Task) {
		s.stats.submitted++
		sc.addTaskLocked()
		sc.pushLocked(c)
	})
}

// enqueueFast queues a task submitted to sc through the inbox, without the
// lock, if it can: sc is the root, the root cap is full, the task has weight
// 1, the queue is unbounded and the root has no deadline. fresh is enqueue's.
func (sc *Scope) enqueueFast(c *core.Task, fresh bool) bool {
	s := sc.s
	if !s.hot.Load() || sc != s.root || !s.fastOK || core.Weight(c) != 1 {
		return false
	}
	if !core.EnqueueInbox(c, &sc.bind, fresh, sc.startHooks) {
		return false // a hook ended or started it: enqueue says so
	}
	if !s.inbox.Push(c) {
		core.UndoInbox(c)
		return false
	}
	if !s.hot.Load() {
		// A slot may have opened before the push was seen: admit.
		s.lock()
		s.admitAllLocked()
		s.unlock()
	}
	return true
}
