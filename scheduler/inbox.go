package scheduler

import (
	"runtime"

	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/internal/goid"
)

// The submit inbox. While a task submitted now could not start anyway (every
// slot of the root cap is taken), Submit does not take the scheduler's lock:
// it pushes the task onto its scope's lock-free inbox (core.Inbox), puts the
// scope on the scheduler's list of scopes to drain (s.dirty) if it is not
// there yet, and returns. Whoever takes the lock next (at the latest the
// running task that frees a slot) first moves every listed inbox into its
// scope's queue, oldest first, so admission order, counters, Snapshot and
// Stats are what they would have been had each submit taken the lock.
//
// s.hot says that the inbox may be used: it is true only while a lock is
// sure to come and drain the inboxes: while the root cap is full and some
// task runs (its Release), or while a goroutine lingers for work (it polls
// under the lock, and takes the lock before it exits). The lingering
// goroutine is where the locked path would have put the task too. unlock
// recomputes hot each time the lock is let go. A submitter that pushed and
// listed its scope and then sees hot false takes the lock itself; unlock,
// having stored false, drains what it finds listed: one of the two sees the
// other's write (both are sequentially consistent atomics), so no task is
// left behind.
//
// A scope is on the list at most once: the submit whose push finds the
// inbox empty lists it, and no other. The drainer takes the list first
// and then, scope by scope, reads the scope's link before it empties the
// inbox; so a scope is listed again only by a push after its Take, once
// the drainer is done with its link. (A sealed inbox is never empty
// again.)
//
// Closing or canceling a scope seals its inbox (sealLocked); a push that
// finds it sealed is undone and the submit takes the locked path, which
// refuses it.

// lock takes the scheduler's lock and drains the listed inboxes.
func (s *Scheduler) lock() {
	if s == nil {
		panic(errNilScheduler)
	}
	s.mu.Lock()
	if s.dirty.Load() != nil {
		s.drainLocked()
	}
}

// tryLock is lock if the lock is free.
func (s *Scheduler) tryLock() bool {
	if !s.mu.TryLock() {
		return false
	}
	if s.dirty.Load() != nil {
		s.drainLocked()
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
		if s.dirty.Load() != nil {
			s.drainLocked()
			s.admitAllLocked()
		}
	}
	if s.wake != nil || len(s.outbox) > 0 {
		s.unlockThen()
		return
	}
	s.mu.Unlock()
}

// unlockThen lets the lock go, then closes the done channel Release left
// (its waiters are woken outside the lock, and before any call of the
// outbox, which may take a network round trip to a shared limit), then
// makes the outbox's calls.
func (s *Scheduler) unlockThen() {
	wake, out := s.wake, s.outbox
	s.wake, s.outbox = nil, nil
	s.mu.Unlock()
	if wake != nil {
		if wakeDelay != nil {
			wakeDelay()
		}
		close(wake)
	}
	if len(out) > 0 {
		s.callOuts(out)
	}
}

// callOuts makes the outbox's calls out, in order. A call may come back
// into s on this goroutine and let the lock go with calls of its own (a
// shared limit that answers inside Acquire: the next head asks, and is
// answered there too): those are made here, once the call under way has
// returned, instead of inside it, so that the stack does not grow by one
// nesting per queued task (a million of them overflowed it). They are
// still made on the goroutine that let the lock go, before its outermost
// unlock returns.
//
// The goroutine id (a stack trace, 1-3 µs) is read only while another
// callOuts is under way, on this goroutine or another: alone, a call is
// nested in none, and makes its calls itself. A call nested in such an
// unregistered one registers, so the nesting stops at two.
func (s *Scheduler) callOuts(out []func()) {
	defer s.outCalls.Add(-1)
	if s.outCalls.Add(1) == 1 {
		for _, f := range out {
			s.callOut(f)
		}
		return
	}
	id := goid.ID()
	if id == 0 { // no goroutine id: nest, as a last resort
		for _, f := range out {
			s.callOut(f)
		}
		return
	}
	s.outMu.Lock()
	if q := s.outRuns[id]; q != nil {
		*q = append(*q, out...) // made by the callOuts further up this stack
		s.outMu.Unlock()
		return
	}
	q := &out
	if s.outRuns == nil {
		s.outRuns = make(map[uint64]*[]func())
	}
	s.outRuns[id] = q
	s.outMu.Unlock()
	defer func() { // deferred: a call that exits the goroutine (Goexit) too
		s.outMu.Lock()
		delete(s.outRuns, id)
		s.outMu.Unlock()
	}()
	for {
		s.outMu.Lock() // only this goroutine appends to q: see above
		if len(*q) == 0 {
			s.outMu.Unlock()
			return
		}
		f := (*q)[0]
		(*q)[0] = nil
		*q = (*q)[1:]
		s.outMu.Unlock()
		s.callOut(f)
	}
}

// callOut makes one of the outbox's calls (into a shared limit: a permit's
// Release, a request's cancel). A panic of the limit's is logged, and the
// calls after it are still made: a permit left unreleased by a panic that
// went on would also leave those behind it taken.
func (s *Scheduler) callOut(f func()) {
	defer func() {
		if p := recover(); p != nil {
			s.logError("lazysched: shared limit panicked", "err", core.NewPanicError(p))
		}
	}()
	f()
}

// wakeDelay, set by tests only, is called between unlockThen's unlock and
// the close of the done channel Release left.
var wakeDelay func()

// lockFor is lock for an operation on c, and returns c's state: the caller
// acts on that state, read in the same load as the checks below, never on
// a second read. If c waits in an inbox of this scheduler still (its
// submitter has not pushed it yet, or the push is not drained; only a task
// that hooks saw can be seen so early), it waits for the push and the
// drain. A task still in the push's transit reads as Lazy, and becomes
// Queued once the push is done, with no lock: it is waited for too. A task
// that reads Lazy may still be claimed for a push after lockFor returns:
// its caller's move must be a compare-and-swap from Lazy, which then fails.
func (s *Scheduler) lockFor(c *core.Task) core.State {
	s.lock()
	for {
		st, transit, inbox := core.InboxView(c)
		if !transit && (!inbox || s.scopeOf(c) == nil) {
			return st
		}
		s.unlock()
		runtime.Gosched()
		s.lock()
	}
}

// drainLocked moves the tasks of every listed inbox into its scope's queue.
// It takes the scopes in the order they were listed (the list is a stack:
// it is reversed first), which is the order of their first pending tasks:
// so the scopes that the drain puts in line come in the order of their
// heads, and each is appended to the ready run (ready.go) rather than
// sifted into its heap.
func (s *Scheduler) drainLocked() {
	var old *Scope
	for sc := s.dirty.Swap(nil); sc != nil; {
		next := sc.dirtyNext
		sc.dirtyNext = old
		old, sc = sc, next
	}
	for sc := old; sc != nil; {
		next := sc.dirtyNext
		sc.dirtyNext = nil
		sc.takeInboxLocked(false)
		sc = next
	}
}

// takeInboxLocked links the tasks of sc's inbox into its queue, and seals
// the inbox if seal is true.
func (sc *Scope) takeInboxLocked(seal bool) {
	sc.inbox.Take(seal, func(c *core.Task) {
		core.Pushed(c) // a task hooks saw may still be in transit: it is pushed, so Queued
		sc.count(cSubmitted)
		sc.count(cCreated)
		sc.addTaskLocked()
		sc.pushLocked(c)
	})
}

// sealLocked links what sc's inbox holds and seals it: sc is closing or
// canceled, and later submits must take the locked path to be refused.
func (sc *Scope) sealLocked() { sc.takeInboxLocked(true) }

// list puts sc on the scheduler's list of scopes to drain, for the push
// that found its inbox empty.
func (sc *Scope) list() {
	s := sc.s
	for {
		h := s.dirty.Load()
		sc.dirtyNext = h
		if s.dirty.CompareAndSwap(h, sc) {
			return
		}
	}
}

// enqueueFast queues a task submitted to sc through sc's inbox, without the
// lock, if it can: a lock is sure to come (s.hot), the task has weight 1
// and no deadline of its own (core.Plain: its timer starts when it is
// queued, which a drain may not do before the deadline), the queue is
// unbounded and no deadline is on sc's path. fresh is enqueue's.
func (sc *Scope) enqueueFast(c *core.Task, fresh bool) bool {
	s := sc.s
	if !s.hot.Load() || !sc.fastOK || !core.Plain(c) || sc.ctx.Err() != nil {
		return false // a canceled scope's refusal is the locked path's
	}
	if !core.EnqueueInbox(c, &sc.bind, fresh, sc.startHooks) {
		return false // a hook ended or started it: enqueue says so
	}
	core.SetOrder(c, s.orderOf(c)) // at the submit, not when the inbox is taken
	ok, first := sc.inbox.Push(c)
	if !ok {
		core.UndoInbox(c, fresh)
		return false
	}
	core.InboxPushed(c)
	if first {
		sc.list()
	}
	if !s.hot.Load() {
		// A slot may have opened before the push was seen: admit.
		s.lock()
		s.admitAllLocked()
		s.unlock()
	}
	return true
}
