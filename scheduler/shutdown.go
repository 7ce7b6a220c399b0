package scheduler

import (
	"context"
	"sync"

	"github.com/lazysched/lazysched/internal/check"
	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/lazytask"
)

// Wait waits until nothing is queued or running in the scheduler, or until
// ctx ends (then it returns context.Cause(ctx)). It does not stop
// submissions: a task submitted meanwhile is waited for too. It returns the
// root scope's errors when the root is fail-fast; see Scope.Wait.
func (s *Scheduler) Wait(ctx context.Context) error { return s.rootScope().Wait(ctx) }

// Wait waits until no task of the scope's subtree is queued or running,
// then returns the scope's errors: every real error joined once for a
// fail-fast scope, nil for a supervisor. If ctx ends first it returns
// context.Cause(ctx). Lazy tasks are not waited for: they have not been
// handed to the scope. Called from inside tasks of the scope (with their
// context), it does not wait for those tasks; called from outside, it
// waits for every task, those that wait from inside included. Results are
// published before Wait returns; done callbacks may still be running.
func (sc *Scope) Wait(ctx context.Context) error {
	sc.sched() // a nil *Scope panics with a message naming it
	leave, inside := sc.enter(ctx)
	err := sc.waitLending(ctx, inside)
	leave()
	if err != nil {
		return err
	}
	return sc.Err()
}

// enter counts a Wait or Shutdown made from inside a task of sc's subtree
// (ctx is, or derives from, that task's context), so that waits from
// inside leave the waiting tasks out; inside says it did. The returned
// function undoes it. A wait from outside waits for every task, those
// waiting from inside included.
func (sc *Scope) enter(ctx context.Context) (leave func(), inside bool) {
	c := core.Current(ctx)
	if c == nil || core.StateOf(c) != core.Running {
		return func() {}, false
	}
	s := sc.s
	s.lock()
	defer s.unlock()
	if core.StateOf(c) != core.Running {
		// It ended meanwhile: its end, published under s.mu, has
		// uncounted it already (doneTaskLocked).
		return func() {}, false
	}
	for p := s.scopeOf(c); p != nil; p = p.parent {
		if p == sc {
			if sc.insiders == nil {
				sc.insiders = make(map[*core.Task]int32)
			}
			sc.insiders[c]++
			sc.wakeIdleLocked()
			return func() {
				s.lock()
				// The task's end may have dropped it already.
				if n, ok := sc.insiders[c]; ok {
					if n > 1 {
						sc.insiders[c] = n - 1
					} else {
						delete(sc.insiders, c)
					}
				}
				s.unlock()
			}, true
		}
	}
	return func() {}, false
}

// wakeIdleLocked wakes the waits on sc if the only tasks left in its
// subtree are those waiting from inside (a wait from outside then looks
// again, and waits on).
func (sc *Scope) wakeIdleLocked() {
	if sc.idle != nil && sc.tasks <= len(sc.insiders) {
		close(sc.idle)
		sc.idle = nil
	}
}

// waitLending is waitIdle for a wait that may come from inside a task: the
// task's slots are lent while it waits (I9). A task from outside the scope
// may hold them when the scope goes idle: taking them back waits for them
// only until ctx ends (then over the cap, counted), so that the wait still
// returns when its context ends.
func (sc *Scope) waitLending(ctx context.Context, inside bool) error {
	reclaim := core.BeginWaitBounded(ctx)
	err := sc.waitIdle(ctx, inside)
	if reclaim != nil {
		reclaim(err != nil) // cut short: its context ended first
	}
	return err
}

// waitIdle waits until the subtree's only tasks are those waiting from
// inside, for a wait from inside, or until it has none, for one from
// outside.
func (sc *Scope) waitIdle(ctx context.Context, inside bool) error {
	s := sc.s
	for {
		s.lock()
		if sc.tasks == 0 || inside && sc.tasks <= len(sc.insiders) {
			s.unlock()
			return nil
		}
		if sc.idle == nil {
			sc.idle = make(chan struct{})
		}
		idle := sc.idle
		s.unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return core.DoneCause(ctx)
		}
	}
}

// Shutdown closes the scope gracefully. It stops admission to the scope's
// subtree (submissions return ErrClosed) and cancels the Lazy tasks bound
// to it with lazytask.ErrScopeClosed (I10); shuts the child scopes down
// concurrently, deepest first; lets queued and running tasks of the whole
// subtree finish until ctx ends (the grace period); then cancels all that
// remains at once, top-down, with ErrClosed as the cause (queued tasks end
// Canceled, running ones see their context canceled) and waits for the
// running tasks to return. A ctx that has already ended gives no grace
// period: the cancellation comes with the close, and no queued task starts.
// A task that ignores its context keeps Shutdown waiting.
//
// It returns the scope's errors (see Wait) if everything finished within
// the grace period, or context.Cause(ctx) if the grace period ended first.
// A second call cancels at once, waits as above, and returns ErrClosed; the
// first call then returns ErrClosed too. (The Shutdown of a parent is not
// a call of the child's own: a child's first Shutdown made meanwhile is
// graceful too, and returns ErrClosed if the end of the parent's grace
// period canceled the child's tasks first.) Called from inside tasks of the
// scope (with their context), it does not wait for those tasks, and the
// scope is released when the last of them ends.
func (sc *Scope) Shutdown(ctx context.Context) error {
	sc.sched() // a nil *Scope panics with a message naming it
	if reclaim := core.BeginWait(ctx); reclaim != nil {
		// A task shutting its own scope down lends its slot (I9). Past
		// the grace period Shutdown still waits for the subtree's tasks to
		// return: the wait is never cut short.
		defer reclaim(false)
	}
	return sc.shutdown(ctx, true)
}

// shutdown is Shutdown; top is false for the children that a parent's
// Shutdown closes: the parent alone handles the end of the grace period, so
// that the whole subtree is canceled in one step and no freed slot goes to
// a task queued higher up.
func (sc *Scope) shutdown(ctx context.Context, top bool) error {
	s := sc.s
	leave, inside := sc.enter(ctx)
	defer leave()
	s.lock()
	// A second call of the scope's own escalates; the calls a parent's
	// Shutdown makes on its children (top false) do not count as the
	// child's own: a child's first Shutdown of its own, made while its
	// parent's shuts it down, is graceful too.
	sc.shutdowns++
	escalate := top && sc.ownShutdowns > 0 || !top && sc.shutdowns > 1
	if top {
		sc.ownShutdowns++
	}
	if escalate {
		var ended []*core.Task
		if top {
			ended = sc.cancelClosingLocked()
			s.admitAllLocked() // what a canceled head held up elsewhere
		}
		s.unlockFinishing(ended)
		_ = sc.waitIdle(context.Background(), inside)
		if top {
			return ErrClosed
		}
		return nil
	}
	var lazy []*core.Task
	sc.walk(func(x *Scope) {
		x.sealLocked() // later submits take the locked path, refused
		x.closed = true
		lazy = x.cancelLazyLocked(lazytask.ErrScopeClosed, lazy)
	})
	s.wakeRoomLocked() // SubmitWait callers into the subtree see ErrClosed
	// A grace period over before it began: cancel in the same step as the
	// close, so that no slot freed meanwhile starts a queued task.
	graceOver := top && ctx.Err() != nil
	if graceOver {
		lazy = append(lazy, sc.cancelClosingLocked()...)
		s.admitAllLocked() // what a canceled head held up elsewhere
	}
	// The children shut down concurrently, each on a goroutine of its
	// own, but those whose subtree has no task left: closed by the walk
	// above, they get none later, so their shutdowns end at once, and
	// they run here, one after another. 10,000 idle per-host scopes then
	// cost no goroutine each.
	var busy, idle []*Scope
	for ch := range sc.children {
		if ch.tasks == 0 {
			idle = append(idle, ch)
		} else {
			busy = append(busy, ch)
		}
	}
	s.unlockFinishing(lazy)

	var wg sync.WaitGroup
	for _, ch := range busy {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = ch.shutdown(ctx, false)
		}()
	}
	for _, ch := range idle {
		_ = ch.shutdown(ctx, false)
	}
	var err error
	if !top {
		_ = sc.waitIdle(context.Background(), inside)
	} else if graceOver {
		_ = sc.waitIdle(context.Background(), inside)
		err = context.Cause(ctx)
	} else if err = sc.waitIdle(ctx, inside); err != nil {
		s.lock()
		ended := sc.cancelClosingLocked()
		s.admitAllLocked() // what a canceled head held up elsewhere
		s.unlockFinishing(ended)
		_ = sc.waitIdle(context.Background(), inside)
	}
	wg.Wait()
	s.lock()
	sc.releaseLocked()
	errs := joinErrs(sc.errs)
	escalated := sc.ownShutdowns > 1
	// The end of a grace period other than this call's (a parent's
	// Shutdown) cut what this one waited for.
	cut := sc.cutByClose
	s.unlock()
	if err != nil {
		return err
	}
	if top && (escalated || cut) {
		return ErrClosed // a second call, or a parent's grace, canceled what this one waited for
	}
	return errs
}

// cancelClosingLocked is the cancellation at the end of a Shutdown's grace
// period, or of an escalated Shutdown: it cancels sc's subtree with
// ErrClosed and marks the scopes it cancels so, so that a graceful Shutdown
// of one of them in flight returns ErrClosed.
func (sc *Scope) cancelClosingLocked() []*core.Task {
	sc.walk(func(x *Scope) {
		if !x.dead {
			x.cutByClose = true
		}
	})
	return sc.cancelTreeLocked(ErrClosed)
}

// releaseLocked releases a canceled or shut-down scope now if none of its
// subtree's tasks is left, or else when the last one ends (I12).
func (sc *Scope) releaseLocked() {
	if sc.tasks == 0 {
		sc.detachLocked()
	} else {
		sc.detach = true
	}
}

// detachLocked releases a canceled or shut-down scope: its context is
// canceled, its parent forgets it and admission no longer lists it.
func (sc *Scope) detachLocked() {
	sc.detach = false
	if sc.in != nil {
		sc.unparkLocked() // its queue is empty by now; to be sure
	}
	if sc.stopTTL != nil {
		sc.stopTTL()
	}
	if !sc.dead {
		sc.cancel(ErrClosed)
	}
	if p := sc.parent; p != nil {
		if _, in := p.children[sc]; !in {
			return // released before (a Shutdown or Cancel after another)
		}
		// Its subtree's totals (its children may be released after it)
		// stay in its ancestors' Stats.
		sc.walk(func(x *Scope) {
			p.gone.add(&x.stats)
			p.gone.add(&x.gone)
		})
		delete(p.children, sc)
	}
}

// Shutdown shuts the root scope down (see Scope.Shutdown) and then waits for
// every goroutine of the scheduler to exit, so nothing outlives it. Called
// from inside a task of the scheduler (with that task's context) it waits
// for the other tasks to end, but not for the scheduler's goroutines: its
// own exits only when its task returns, and the user code that follows
// other tasks' ends (done callbacks, done hooks) may be waiting for that
// task. Call it from outside the tasks to have every goroutine, and every
// done hook, finished when it returns.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	err := s.rootScope().Shutdown(ctx)
	s.lock()
	s.dismissIdleLocked() // closed: none parks again
	s.unlock()
	if c := core.Current(ctx); c == nil || s.scopeOf(c) == nil || core.StateOf(c) != core.Running {
		own, ownTimed := s.ownCounts()
		if own > 0 {
			// A done hook on the done queue's runner may be the caller:
			// the hooks behind it go to a new runner, waited for below.
			s.lock()
			s.handStuckDoneLocked()
			s.unlock()
		}
		s.waitGoroutines(own) // a callback calling Shutdown cannot wait for itself
		s.stopTimers()
		if s.stopBase != nil {
			s.stopBase()
		}
		s.ttl.Wait(ownTimed)
		if check.Enabled {
			s.lock()
			check.That(s.running == 0 && s.queued == 0 && s.forced == 0 && s.overTasks == 0,
				"after Shutdown: running %d, queued %d, over-cap %d", s.running, s.queued, s.overTasks)
			check.That(s.root.lim.InUse() == 0 && s.root.tasks == 0,
				"after Shutdown: %d slots in use, %d tasks counted", s.root.lim.InUse(), s.root.tasks)
			s.unlock()
		}
	}
	return err
}

// stopTimers disarms the timeouts of every scope still attached, so that
// the ttl wait below ends: a fired one finishes its cancellation first.
func (s *Scheduler) stopTimers() {
	s.lock()
	var stops []func() bool
	s.root.walk(func(x *Scope) {
		if x.stopTTL != nil {
			stops = append(stops, x.stopTTL)
		}
	})
	s.unlock()
	for _, stop := range stops {
		stop()
	}
}

// waitGoroutines waits for the scheduler's goroutines (see goroutines.Wait)
// and, from outside them, for the done queue's hooks too: Shutdown
// returns only once every done hook has run. The two waits agree when
// the runner is counted, as it is from its start; the queue is looked at
// again anyway, since a CI run under load once saw Shutdown return with
// ten tasks' hooks still in the queue and a runner started by the
// watchdog just after the wait (its cause is not found). A batch left by
// a runner that is gone is handed to a new one, as the watchdog does; its
// claims keep an entry from running twice.
func (s *Scheduler) waitGoroutines(own int) {
	for {
		s.wg.Wait(own)
		if own > 0 {
			return
		}
		s.lock()
		d := &s.done
		pending := d.running
		switch {
		case !pending:
		case d.batch != nil:
			w := d.claim.Load()
			s.handDoneOnLocked(uint32(w>>32), uint32(w))
		case s.wg.n.Load() == 0:
			s.goTracked(s.runDone) // none runs the queue: one does now
		}
		s.unlock()
		if !pending {
			return
		}
	}
}
