package scheduler

import (
	"context"
	"runtime/pprof"
	"slices"

	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/internal/goid"
)

// owner is a Scope seen as the core.Owner of its tasks; it keeps the core's
// methods out of the Scope's exported method set.
type owner Scope

func (o *owner) scope() *Scope { return (*Scope)(o) }

func (o *owner) Context() context.Context { return o.ctx }

func (o *owner) Release(c *core.Task, st core.State, err error, exiting bool) (*core.Task, core.After) {
	sc := o.scope()
	s := sc.s
	w := core.Weight(c)
	if s.cfg.pprofLabels {
		pprof.SetGoroutineLabels(context.Background()) // the task's labels end with it
	}
	s.lock()
	if len(s.early) > 0 {
		s.dropEarlyLocked(c)
	}
	if core.OverCap(c) {
		s.forced -= w
		s.overTasks--
		if len(s.reclaims) > 0 {
			s.dropOverLocked(c) // it ends before a slot came back to it
		}
	} else if core.PeekOwnerWord(c) == 0 {
		sc.putPath(w)
	}
	if ws, gated := core.TakeAwaiters(c); ws != nil || gated != nil {
		s.reclaimEarlyLocked(ws, false) // the slots go back to who waited for c first
		s.reclaimEarlyLocked(gated, true)
	}
	s.running--
	sc.running.Remove(c)
	if sc.sharer != nil {
		sc.sharer.putPermitLocked(c)
	}
	switch st {
	case core.Succeeded:
		sc.count(cSucceeded)
	case core.Failed:
		sc.count(cFailed)
		sc.failLocked(err)
	default:
		sc.count(cCanceled)
	}
	// User code runs for c after this (I11): its done callbacks, the
	// supervisor's handler and what a fail-fast error canceled (both only
	// for a failure), done hooks. Then the tasks the freed slots admit
	// start on goroutines of their own, not behind that code.
	pending, wake := core.PublishLockedWake(c, st, err)
	hooks := sc.doneHooks
	after := pending || st == core.Failed || hooks
	// When done hooks alone follow and a task is queued, this goroutine
	// may go on with that task and leave the hooks to the done queue's
	// runner (donehooks.go); here says they run on this goroutine. Also
	// while Shutdown drains the queue: the runner is one of the goroutines
	// Shutdown waits for, and the other way puts a goroutine's wake (or
	// start) on every next task's path.
	handoff := hooks && !pending && st != core.Failed && !exiting && s.queued > 0 && s.done.room()
	here := after && !handoff
	// c's waiters are woken once s.mu is let go (unlock) when nothing of
	// c's follows: closing the channel readies the waiter and may wake an
	// idle thread for it (a futex call), and under the lock that made the
	// worker that ended next sleep on s.mu, to be readied later onto this
	// P's run queue, where the idle P did not steal it for up to 3.5 ms
	// (a runtime trace of W5 at cap 2). The channel is closed under the
	// lock, before what could tell of c's end:
	//   - when user code follows: the waiter is readied first, as before
	//     (also when the done queue's runner runs that code: it could take
	//     it as soon as s.mu is let go, before unlock closes the channel);
	//     the goroutine that the freed slot admits a task to is readied
	//     after it and runs first here (the other order made empty hooks
	//     10% slower);
	//   - when c's end releases a Wait or a scope (doneTaskLocked): a Wait
	//     that returns, or a released scope's canceled context, must find
	//     c done;
	//   - when a task starts on another goroutine (startLocked closes it
	//     then): it may look at c.
	// A Stats call, or a Wait begun as c ends, may see c counted a moment
	// before a channel that Done gave before the end is closed (Done
	// called from then on gives a closed one).
	if wake != nil && (after || sc.releasesLocked()) {
		close(wake)
		wake = nil
	}
	s.wake = wake
	sc.doneTaskLocked(c)
	var next *core.Task
	if !exiting && !here && s.queued > 0 {
		next = s.admitOne(core.Finished(c))
	}
	res := core.AfterNone
	switch {
	case handoff && next != nil:
		s.pushDoneLocked(doneEntry{c: c, sc: sc, st: st, err: err})
		res = core.AfterElsewhere
	case after:
		here = true // nothing this goroutine can go on with: the hooks run here
		res = core.AfterHere
	}
	if !here || s.spinning == 0 || len(s.reclaims) > 0 {
		s.admitAllLocked()
	}
	// Else a goroutine lingers (linger): it admits what the freed slots
	// take, under s.mu, before it stops lingering, and runs it, with no
	// user code of c's before it and no new goroutine.
	s.unlock() // closes s.wake, if startLocked did not
	return next, res
}

// Finished runs the user code that follows a task's end, after its done
// callbacks: the supervisor's handler and what a fail-fast error deferred
// (for a failure), then the done hooks. Each step is contained: a panic is
// logged, and a runtime.Goexit ends only the goroutine it was called on,
// the steps after it going on on another (I11).
func (o *owner) Finished(c *core.Task, st core.State, err error) { o.finished(c, st, err, 0) }

// finished runs Finished's steps from step from on: 0 the handler, 1 the
// deferred work, 2 the hooks.
//
// Its frame is kept small (the failure's steps are in finishedFailed): it runs at
// the bottom of a task goroutine's stack, which starts small, and a frame
// that passes the first stack's end costs a stack copy per goroutine.
func (o *owner) finished(c *core.Task, st core.State, err error, from int) {
	sc := o.scope()
	if st == core.Failed && from <= 1 {
		o.finishedFailed(c, err, from)
		return
	}
	if sc.hooked {
		sc.fire(c, hookDone)
	}
}

// finishedFailed runs the steps of finished for a failure, from step from (0 or 1).
//
//go:noinline
func (o *owner) finishedFailed(c *core.Task, err error, from int) {
	sc := o.scope()
	if from == 0 && sc.policy == supervise {
		sc.reportOr(infoOf(c), err, func() { o.finished(c, core.Failed, err, 1) })
	}
	// The done hooks come after what the failure canceled; if a callback
	// of that calls runtime.Goexit, they still run, on the goroutine that
	// goes on.
	sc.s.flushDeferred(func() { o.finished(c, core.Failed, err, 2) })
}

// Starting fires the start hooks. If one calls runtime.Goexit, the others
// and then the task run on a goroutine of the scheduler's.
func (o *owner) Starting(c *core.Task, ctx context.Context) context.Context {
	return o.scope().fireStart(c, ctx)
}

// Name is the scope's name, for the tasks' Info.
func (o *owner) Name() string { return o.name }

// Go runs f on a goroutine that Shutdown waits for.
func (o *owner) Go(f func()) { o.s.goTracked(f) }

func (o *owner) Cancel(c *core.Task, cause error) bool {
	sc := o.scope()
	s := sc.s
	s.lockFor(c)
	if !sc.cancelOneLocked(c, cause) {
		s.unlock()
		return false
	}
	s.admitAllLocked()
	if !s.userCodeFollows1(c) {
		s.unlock()
		s.finishOne(c, nil, nil) // it only closes c's channel, if asked for
		return true
	}
	s.unlockFinishing([]*core.Task{c})
	return true
}

// cancelOneLocked ends a bound Lazy or a Queued task of sc Canceled.
func (sc *Scope) cancelOneLocked(c *core.Task, cause error) bool {
	return sc.endUnstartedLocked(c, core.Canceled, cause)
}

// endUnstartedLocked ends a bound Lazy or a Queued task of sc in st
// (Canceled or Failed) with err, without running it.
func (sc *Scope) endUnstartedLocked(c *core.Task, st core.State, err error) bool {
	was, ok := core.CancelLocked(c)
	if !ok {
		return false
	}
	if was == core.Queued {
		sc.unqueueLocked(c)
		sc.doneTaskLocked(c)
	} else if core.Bound(c) == &sc.bind {
		sc.unbindLocked(c) // a bound Lazy task is in sc's lazy list
	}
	if st == core.Failed {
		sc.count(cFailed)
	} else {
		sc.count(cCanceled)
	}
	core.PublishLocked(c, st, err)
	return true
}

func (o *owner) Force(c *core.Task) error { return o.scope().force(c) }

func (o *owner) Report(c *core.Task, err error) {
	msg := "lazysched: done callback panicked"
	if err == core.ErrCallbackGoexit {
		msg = "lazysched: done callback called runtime.Goexit"
	}
	o.s.logError(msg, "scope", o.name, "task", infoOf(c).Name, "err", err)
}

// Lend frees a running task's slots while its function waits for other
// tasks, so that nested fan-out on one cap cannot deadlock (I9). Nested
// waits of one task (several goroutines of it waiting) lend once.
func (o *owner) Lend(c *core.Task) {
	s := o.s
	s.lock()
	o.lendLocked(c)
	s.unlock()
}

// LendWaitingFor records cur as a waiter on c and lends cur's slots, both
// under s.mu, under which Release ends c: if c ends later, its Release
// sees the waiter and gives the slots back to it ahead of the queue
// (reclaimEarlyLocked). If c has ended, nothing is lent.
func (o *owner) LendWaitingFor(cur, c *core.Task) bool {
	s := o.s
	s.lock()
	ok := core.AddAwaiter(c, cur)
	if ok {
		o.lendLocked(cur)
	}
	s.unlock()
	return ok
}

// LendIdle lends c's slots if c runs and is not waiting already: neither
// lent nor waiting to take its slots back. A task that runs on over the
// cap after a wait cut short (its reclaim not granted yet, but over: no
// goroutine of it waits for it) lends as Lend does (lendLocked drops that
// reclaim): refused, its wait lent nothing, and when the reclaim was
// granted it held the slot while it waited, for a task that waited for
// that slot.
func (o *owner) LendIdle(c *core.Task) bool {
	s := o.s
	s.lock()
	ok := core.StateOf(c) == core.Running && core.PeekOwnerWord(c) == 0 && !s.waitsToReclaimLocked(c)
	if ok {
		o.lendLocked(c)
	}
	s.unlock()
	return ok
}

func (o *owner) lendLocked(c *core.Task) {
	sc := o.scope()
	s := sc.s
	w := core.Weight(c)
	n := core.OwnerWord(c)
	*n++
	if *n == 1 {
		if core.OverCap(c) {
			s.underCapLocked(c, w)
			// Over the cap only until a slot came back (ReclaimNow), c
			// holds none to lend: its next Reclaim asks for one again.
			// Force-run, it goes back over the cap.
			if len(s.reclaims) == 0 || !s.dropOverLocked(c) {
				core.SetLentOver(c, true)
			}
		} else {
			sc.putPath(w)
		}
		s.lent++
		s.admitAllLocked()
	} else if len(s.early) > 0 {
		s.relendEarlyLocked(sc, c)
	}
}

// Reclaim takes the lent slots back once the wait ends. A task that waited
// takes them ahead of every queued task: if they are free and no other
// task waits to take its own back, at once; otherwise it waits until
// admission hands them over (admitOne serves such tasks first), so that
// tasks running their own code never exceed the cap. A task that was
// force-run over the cap goes back over it without waiting.
func (o *owner) Reclaim(c *core.Task) { o.reclaim(c, false) }

// ReclaimNow is Reclaim for a wait cut short by its context (I9): c may
// mean to cancel the very tasks that hold the slots it lent (await with a
// timeout, then cancel the straggler), so it does not wait for them. If
// they are not free it goes on over the cap, counted in Stats.OverCap, and
// keeps its place at the head of the reclaims: the first slots to free up
// are its own again, and its run over the cap ends there.
func (o *owner) ReclaimNow(c *core.Task) { o.reclaim(c, true) }

// ReclaimWaitFor ends the wait of cur on c that LendWaitingFor began:
// under s.mu, under which Release ends c and gives c's waiters their slots
// back, so c's end and the wait's are ordered: either c's Release saw cur
// waiting, and cur's slots came back there (early), or cur is forgotten
// before c ends. A wait cut short while c still runs is ReclaimNow's.
func (o *owner) ReclaimWaitFor(cur, c *core.Task, cut bool) {
	o.s.lock()
	core.ForgetAwaiter(c, cur)
	o.reclaimLocked(cur, cut && !core.IsDone(c), nil)
}

// ReclaimWaitForUntil is ReclaimWaitFor whose wait for the slots ends, over
// the cap (counted), when stop closes: the wait's context ended meanwhile.
func (o *owner) ReclaimWaitForUntil(cur, c *core.Task, cut bool, stop <-chan struct{}) {
	o.s.lock()
	core.ForgetAwaiter(c, cur)
	o.reclaimLockedUntil(cur, cut && !core.IsDone(c), nil, stop)
}

// LendGate lends the slots of g's task for a wait on g (core.Gate): the
// wait is counted under s.mu, so a watched task that ends while it lasts
// sees it in its Release and gives the slots back there (early), ahead of
// the queue.
func (o *owner) LendGate(g *core.Gate) bool {
	s := o.s
	s.lock()
	cur := g.Task()
	ok := core.StateOf(cur) == core.Running
	if ok {
		g.AddWait(1)
		o.lendLocked(cur)
	}
	s.unlock()
	return ok
}

// ReclaimGate ends a wait on g; see LendGate. Unless g is patient, or the
// wait ended with the last of the tasks its caller waits for, it never
// waits for the slots (as ReclaimNow): a combinator's wait, woken by one
// of its tasks' callbacks, whose other tasks hold the slots and may wait
// for one another (a child that waits for a sibling still queued). A
// waiter held up at the head of the reclaims would hold the sibling up
// with it; going on over the cap, counted, it holds nobody up, and the
// first slots to free up are its own again, which ends its run over the
// cap. Once the last of them has ended none holds a slot, and the wait
// waits for its slots at the head, as Await does, instead of running its
// caller's code beside the task that took them (I3). A patient gate's
// wait (errgroup's) ends before the task that ends it gives its slot
// back, which it then waits for, at the head.
func (o *owner) ReclaimGate(g *core.Gate, cut, last bool) {
	o.s.lock()
	g.AddWait(-1)
	o.reclaimLocked(g.Task(), cut || !(g.Patient() || last), g)
}

func (o *owner) reclaim(c *core.Task, now bool) {
	o.s.lock()
	o.reclaimLocked(c, now, nil)
}

// ReclaimUntil is Reclaim for a wait whose context may still end while the
// slots are being waited for (SubmitWait's: the room it waited for came
// from the very task its lend let in, which holds the slot): if stop closes
// first, c goes on over the cap, counted, as after ReclaimNow, so that the
// wait still returns when its context ends.
func (o *owner) ReclaimUntil(c *core.Task, stop <-chan struct{}) {
	o.s.lock()
	o.reclaimLockedUntil(c, false, nil, stop)
}

// reclaimLocked is reclaim with s.mu held; it lets go of it. by is the
// gate whose wait it ends, if any: a run over the cap it begins is that
// gate's to settle (Settle).
func (o *owner) reclaimLocked(c *core.Task, now bool, by *core.Gate) {
	o.reclaimLockedUntil(c, now, by, nil)
}

// reclaimLockedUntil is reclaimLocked whose wait for the slots also ends,
// over the cap, when stop closes (nil: never).
func (o *owner) reclaimLockedUntil(c *core.Task, now bool, by *core.Gate, stop <-chan struct{}) {
	sc := o.scope()
	s := sc.s
	w := core.Weight(c)
	if r, ok := s.takeEarlyLocked(c); ok {
		if r != nil && now && s.goOverLocked(r) {
			r.by, r = by, nil
		}
		s.unlock()
		if r != nil {
			s.awaitReclaimUntil(c, r, stop)
		}
		return
	}
	n := core.OwnerWord(c)
	*n--
	// A wait that outlives its task (a goroutine the task left behind)
	// must not take back the slot that Release already skipped.
	if *n != 0 || core.StateOf(c) != core.Running {
		s.unlock()
		return
	}
	r := s.takeBackLocked(c, sc, w)
	if r != nil {
		s.grantReclaimsLocked() // the slots may be free, with others waiting ahead
		if now && s.goOverLocked(r) {
			r.by, r = by, nil
		}
	}
	s.unlock()
	if r != nil {
		s.awaitReclaimUntil(c, r, stop)
	}
}

// takeBackLocked ends the lend of c, a running task of sc of weight w,
// as its Reclaim would: a task force-run goes back over the cap, one whose
// slots are free with no one waiting ahead takes them, and any other is
// put in line among the reclaims, whose entry it returns (nil otherwise).
func (s *Scheduler) takeBackLocked(c *core.Task, sc *Scope, w int64) *reclaim {
	s.lent--
	switch {
	case core.LentOver(c):
		core.SetLentOver(c, false)
		s.overCapLocked(c, w)
	case len(s.reclaims) == 0 && sc.fitsPath(w):
		sc.takePath(w)
	default:
		r := &reclaim{c: c, sc: sc, w: w, ch: make(chan struct{})}
		s.reclaims = append(s.reclaims, r)
		return r
	}
	return nil
}

// awaitReclaim waits until r's slots are handed to c.
func (s *Scheduler) awaitReclaim(c *core.Task, r *reclaim) { s.awaitReclaimUntil(c, r, nil) }

// awaitReclaimUntil is awaitReclaim that also goes over the cap when stop
// closes (nil: never).
func (s *Scheduler) awaitReclaimUntil(c *core.Task, r *reclaim, stop <-chan struct{}) {
	select {
	case <-r.ch:
	case <-stop:
		s.lock()
		s.goOverLocked(r)
		s.unlock()
	case <-core.TaskContext(c).Done():
		// The task is being canceled (a scope's cancel, Shutdown past its
		// grace): it only has to return, so it goes on over the cap,
		// counted, rather than wait behind running tasks.
		s.lock()
		s.goOverLocked(r)
		s.unlock()
	}
}

// Settle ends the run over the cap of g's task that a wait on g began, if
// it is on one (goOverLocked): the task is counted under the cap again and
// waits for its slots at its place among the reclaims; see core.Lender.
func (o *owner) Settle(g *core.Gate) {
	s := o.s
	c := g.Task()
	s.lock()
	var r *reclaim
	for _, x := range s.reclaims {
		if x.c == c && x.over && x.by == g {
			r = x
			break
		}
	}
	if r == nil {
		s.unlock()
		return
	}
	r.over = false
	s.underCapLocked(c, r.w)
	s.admitAllLocked() // grants it at once if its slots are free
	s.unlock()
	s.awaitReclaim(c, r)
}

// reclaim is a task that waits to take its lent slots back.
type reclaim struct {
	c  *core.Task
	sc *Scope
	w  int64
	ch chan struct{} // closed once the slots are taken for it
	// over: the task went on over the cap instead of waiting
	// (goOverLocked); granting the slots ends its run over the cap.
	over bool
	// by: the gate whose wait's end sent it over the cap, if any (Settle).
	by *core.Gate
}

// waitsToReclaimLocked reports whether c waits, blocked, to take its
// slots back: a reclaim not granted and not over the cap. It holds none
// to lend, and the slots it is granted are its waiter's.
func (s *Scheduler) waitsToReclaimLocked(c *core.Task) bool {
	for _, r := range s.reclaims {
		if r.c == c && !r.over {
			return true
		}
	}
	return false
}

// goOverLocked lets the task of r, a reclaim not yet granted, go on over
// the cap at once, counted as such, keeping r's place among the reclaims:
// when r is granted, the task holds its slots again and is no longer over
// the cap. It reports false, changing nothing, if r was granted already.
func (s *Scheduler) goOverLocked(r *reclaim) bool {
	select {
	case <-r.ch:
		return false
	default:
	}
	r.over = true
	s.overCapLocked(r.c, r.w)
	return true
}

// dropOverLocked forgets the reclaim of c, a task over the cap after
// goOverLocked, when it ends or lends again before its slots came back. It
// reports whether there was one.
func (s *Scheduler) dropOverLocked(c *core.Task) bool {
	for i, r := range s.reclaims {
		if r.c == c && r.over {
			s.reclaims = slices.Delete(s.reclaims, i, i+1)
			return true
		}
	}
	return false
}

// grantReclaimsLocked hands free slots to the tasks waiting to take theirs
// back, oldest first. It reports false if the oldest one that does not fit
// is held up at the root cap: then no queued task may go ahead of it. One
// held up below the root leaves the queue to other scopes.
func (s *Scheduler) grantReclaimsLocked() bool {
	ok := true
	kept := s.reclaims[:0]
	for _, r := range s.reclaims {
		switch {
		case ok && r.sc.fitsPath(r.w):
			r.sc.takePath(r.w)
			if r.over {
				s.underCapLocked(r.c, r.w)
			}
			close(r.ch)
		case r.sc.tooHeavyLocked(r.w) != nil:
			// A Resize made a cap on its path smaller than its weight:
			// waiting would never end, so it goes on over the cap. One
			// over the cap already keeps its place, for when a Resize
			// makes room again, but holds nobody up meanwhile.
			if r.over {
				kept = append(kept, r)
				continue
			}
			s.overCapLocked(r.c, r.w)
			close(r.ch)
		default:
			if !s.root.lim.Fits(r.w) {
				ok = false
			}
			kept = append(kept, r)
		}
	}
	clear(s.reclaims[len(kept):])
	s.reclaims = kept
	return ok
}

// cancelTreeLocked cancels sc and its subtree with cause: the scopes are
// marked dead, their queued and bound Lazy tasks end Canceled (published
// under the lock), their contexts are canceled. It returns the ended tasks,
// whose callbacks and hooks finishOutside runs once the lock is released.
// The caller admits after it (admitAllLocked): a canceled head may have held
// up the scopes behind it. A task's end (failLocked) admits once its result
// is published, not here (I11).
func (sc *Scope) cancelTreeLocked(cause error) []*core.Task {
	var ended []*core.Task
	var tree []*Scope
	sc.s.wakeRoomLocked() // SubmitWait callers into the subtree see ErrScopeCanceled
	sc.walk(func(x *Scope) {
		tree = append(tree, x)
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
		ended = x.cancelLazyLocked(cause, ended)
		if x.stopTTL != nil {
			x.stopTTL()
		}
		x.cancel(cause)
	})
	// I12: a canceled scope does not outlive its tasks. Released once the
	// whole subtree's tasks are ended, children before their parents, so
	// that what a release hands its parent's Stats (gone) counts the
	// ends below it: an idle scope released first lost the Lazy tasks of
	// its children, canceled after it.
	for _, x := range slices.Backward(tree) {
		x.releaseLocked()
	}
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

// unlockFinishing lets go of s.mu and runs the callbacks and done hooks of
// ended, tasks the caller has just ended under it (finishOutside). If user
// code is to run for them (done hooks, or callbacks registered before the
// end), the caller is counted among the goroutines Shutdown waits for
// until that code has run: it may be no goroutine of the scheduler's (a
// user's Cancel, the goroutine of context.AfterFunc that cancels a task
// whose carried context ended, a scope's timer), and counted before the
// lock is let go it is waited for by a Shutdown that sees those tasks
// ended, so no OnDone of theirs runs after Shutdown returns. It is counted
// by its goroutine id (1-10 µs to read here, only on this path), so that a
// Shutdown of this scheduler called from that code leaves it out, and one
// of another scheduler does not.
func (s *Scheduler) unlockFinishing(ended []*core.Task) { s.unlockFinishingThen(ended, nil) }

// unlockFinishingThen is unlockFinishing, then then (user code too, if not
// nil: what a failure's policy deferred, flushDeferred), counted alike.
func (s *Scheduler) unlockFinishingThen(ended []*core.Task, then func()) {
	if then == nil && !s.userCodeFollows(ended) {
		s.unlock()
		s.finishOutside(ended)
		return
	}
	id := goid.ID()
	s.heldBy.add(id, 1)
	s.wg.Add(1)
	s.unlock()
	// On a goroutine whose task runs (a task's Cancel of a queued task),
	// that code is inside the task: its waits lend the task's slots, and
	// its Shutdown leaves the task out (core.Current).
	leave := core.EnterCallbacks(id)
	defer func() {
		if leave != nil {
			leave()
		}
		s.lock()
		s.heldBy.add(id, -1)
		s.unlock()
		s.wg.Done()
	}()
	s.finishOutsideThen(ended, then)
}

// goidCounts counts, by goroutine id, what each goroutine holds; under
// s.mu.
type goidCounts map[uint64]int

func (m *goidCounts) add(id uint64, d int) {
	if *m == nil {
		*m = make(goidCounts)
	}
	if (*m)[id] += d; (*m)[id] == 0 {
		delete(*m, id)
	}
}

// userCodeFollows reports whether callbacks or done hooks are to run for
// any of the tasks ended (under s.mu).
func (s *Scheduler) userCodeFollows(ended []*core.Task) bool {
	for _, c := range ended {
		if s.userCodeFollows1(c) {
			return true
		}
	}
	return false
}

// userCodeFollows1 is userCodeFollows for one task.
func (s *Scheduler) userCodeFollows1(c *core.Task) bool {
	if core.CallbacksPending(c) {
		return true
	}
	sc := s.scopeOf(c)
	return sc == nil || sc.hooked // a scope gone already: assume so
}

// runTimed runs f, a scope timeout's or the base context's cancellation
// on the goroutine that ttl counts, with that goroutine counted by id
// (see heldBy), so that a Shutdown called from a hook or callback that f
// runs does not wait for it.
func (s *Scheduler) runTimed(f func()) {
	id := goid.ID()
	s.lock()
	s.timedBy.add(id, 1)
	s.unlock()
	defer func() {
		s.lock()
		s.timedBy.add(id, -1)
		s.unlock()
	}()
	f()
}

// ownCounts returns how many counts of s's goroutine waits (wg, ttl) the
// calling goroutine holds: a goroutine of its own (ownGoroutine), and
// the holds of unlockFinishing and runTimed it is inside.
func (s *Scheduler) ownCounts() (wg, ttl int) {
	id := goid.ID()
	wg = s.ownGoroutine(id)
	s.lock()
	wg += s.heldBy[id]
	ttl = s.timedBy[id]
	s.unlock()
	return wg, ttl
}

// finishOutside runs the callbacks and done hooks of tasks ended under the
// lock. Each task's callbacks and hooks are contained on their own (a
// runtime.Goexit in one leaves its rest to another goroutine); if this
// goroutine exits that way, what it had left to do goes on on another.
func (s *Scheduler) finishOutside(ended []*core.Task) { s.finishOutsideThen(ended, nil) }

// finishOutsideThen is finishOutside, then then (if not nil), which runs
// exactly once: here, or on the goroutine that goes on after a Goexit.
func (s *Scheduler) finishOutsideThen(ended []*core.Task, then func()) {
	for i, c := range ended {
		s.finishOne(c, ended[i+1:], then)
	}
	if then != nil {
		then()
	}
}

// finishOne runs c's callbacks and done hooks for finishOutside; rest are
// the tasks after it, then what follows them.
func (s *Scheduler) finishOne(c *core.Task, rest []*core.Task, then func()) {
	s.finishFrom(c, false, rest, then)
}

// finishFrom is finishOne, its callbacks already drained if drained. If a
// callback or hook calls runtime.Goexit, what is left (c's hooks, if the
// callbacks were not done; the tasks after it; then) goes on on another
// goroutine, itself guarded the same way.
func (s *Scheduler) finishFrom(c *core.Task, drained bool, rest []*core.Task, then func()) {
	done := false
	defer func() {
		if done {
			return
		}
		if r := recover(); r != nil {
			panic(r) // not user code: user code's panics are recovered inside
		}
		// runtime.Goexit in a callback or hook of c. The core goes on
		// with the callbacks left, the hook cursor with the hooks left.
		hooksLeft := !drained
		s.goTracked(func() {
			if hooksLeft {
				s.finishFrom(c, true, rest, then) // a Goexit here goes on with rest
			}
			s.finishOutsideThen(rest, then)
		})
	}()
	if !drained {
		core.DrainCallbacks(c)
		drained = true
	}
	s.fireDone(c)
	done = true
}

// fireDone fires the done hooks of a task of this scheduler.
func (s *Scheduler) fireDone(c *core.Task) {
	if sc := s.scopeOf(c); sc != nil && sc.hooked {
		sc.fire(c, hookDone)
	}
}
