package core

import (
	"context"
	"slices"
	"sync/atomic"
	"unsafe"
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
	if reclaim := groupLend(ctx); reclaim != nil {
		return func() { reclaim(doneClosed(ctx) && !IsDone(c)) }
	}
	cur, l := lenderOf(ctx)
	if l == nil || !l.LendWaitingFor(cur, c) {
		return nil // no lender, or c has ended: the wait returns at once
	}
	if u, ok := l.(untilWaitReclaimer); ok && ctx.Done() != nil {
		// Its slots may be held by a task the lend let in (c held none:
		// a force-run), which may run long: taking them back waits for
		// them only until ctx ends.
		return func() { u.ReclaimWaitForUntil(cur, c, doneClosed(ctx), ctx.Done()) }
	}
	return func() { l.ReclaimWaitFor(cur, c, doneClosed(ctx)) }
}

// doneClosed reports whether ctx's Done is closed: whether a wait on ctx
// was cut short, told from Done rather than from Err, which a Context that
// breaks the contract leaves nil after Done closed (see DoneCause).
func doneClosed(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// untilWaitReclaimer is a Lender whose ReclaimWaitFor can be bounded: the
// wait for the slots ends, over the cap, when stop closes.
type untilWaitReclaimer interface {
	ReclaimWaitForUntil(cur, c *Task, cut bool, stop <-chan struct{})
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
//
// gated are the tasks waiting on a gate that watches c (Gate) and is not
// held: owners give them their slots back only where they are free at
// once (see Gate).
func TakeAwaiters(c *Task) (ws, gated []*Task) {
	if c.state.Load()&flagAwaited == 0 {
		return nil, nil
	}
	x := c.x.Load()
	x.mu.Lock()
	ws = x.awaiters
	x.awaiters = nil
	for _, g := range x.gates {
		if g.waiting.Load() > 0 && g.hold.Load() <= 0 {
			gated = append(gated, g.cur)
		}
	}
	x.gates = nil
	x.mu.Unlock()
	return ws, gated
}

// A Gate is a running task's wait for whichever of several tasks ends
// first, through a channel that their done callbacks feed (the factory's
// combinators, errgroup's Wait), where BeginWaitFor cannot name the one
// task waited for. The tasks are watched before the wait begins (OnDone,
// Watch); while the waiter waits on the gate (Begin), the first watched
// task to end gives it its slots back in its Release, ahead of the queue,
// if they are free at once: otherwise the freed slot would go to a queued
// task before the waiter, woken by the callback, could take it back (I9).
// A watched task's end must end the wait at once: its callback must be the
// first (OnDone), or the wait held until it is so (Hold). Where the slots
// are not free at once nothing is given back there (a heavy waiter taking
// its place at the head of the reclaims while it still waits could hold up
// the very tasks it waits for); the wait's own Reclaim then queues for
// them.
type Gate struct {
	cur *Task
	l   Lender
	// waiting counts the waits on the gate now; changed under cur's
	// owner's lock, read by owners that end watched tasks (atomic: those
	// may be of another scheduler, which reclaim nothing for cur).
	waiting atomic.Int32
	// hold, while above 0, keeps watched tasks' ends from ending the wait
	// (Hold): a wait for all of them (errgroup's Wait) ends at the last.
	hold atomic.Int64
	// patient: see NewPatientGate.
	patient bool
}

// NewPatientGate is NewGate for waits that end before the watched task
// that ends them gives its slots back (errgroup's: its functions signal
// their end from inside): the wait then waits for those slots, ahead of
// the queue, rather than go on over the cap (Lender.ReclaimGate).
func NewPatientGate(ctx context.Context) *Gate {
	g := NewGate(ctx)
	if g != nil {
		g.patient = true
	}
	return g
}

// Patient reports whether g was made by NewPatientGate.
func (g *Gate) Patient() bool { return g.patient }

// Task returns the task whose waits g is for.
func (g *Gate) Task() *Task { return g.cur }

// Hold adds d to g's count of what a wait on g waits for besides a
// watched task's end: while it is above 0 a watched task's end gives no
// slot back. A wait for every watched task counts each one up before it
// can end and down before its end can wake the wait. A nil g is ignored.
func (g *Gate) Hold(d int64) {
	if g != nil {
		g.hold.Add(d)
	}
}

// NewGate returns a gate for waits made with ctx, or nil if ctx belongs
// to no running task whose owner lends slots (a nil gate watches nothing,
// and Begin on it is BeginWait).
func NewGate(ctx context.Context) *Gate {
	cur, l := lenderOf(ctx)
	if l == nil {
		return nil
	}
	return &Gate{cur: cur, l: l}
}

// Watch adds c to the tasks whose end ends a wait on g; call it before
// the wait that c's end is to end begins. A nil g, a nil c or a c that has
// ended is ignored.
func (g *Gate) Watch(c *Task) {
	if g == nil || c == nil || c == g.cur {
		return
	}
	x := getX(c)
	x.mu.Lock()
	g.watchLocked(c, x)
	x.mu.Unlock()
}

func (g *Gate) watchLocked(c *Task, x *ext) {
	if !x.ended {
		x.gates = append(x.gates, g)
		c.state.Or(flagAwaited)
	}
}

// OnDone is core's OnDone(c, f) for a callback f that ends a wait on g
// (it feeds the channel the wait receives from): c is also watched on g,
// if f is c's first callback. Then no other callback (user code that may
// wait for other tasks) runs between c's end and the wait's. A nil g is
// OnDone(c, f).
func (g *Gate) OnDone(c *Task, f func()) {
	x := getX(c)
	setSlowUnlessEnded(c) // as OnDone: an end from now on claims f if it is listed
	x.mu.Lock()
	if g != nil && x.registered == 0 && c != g.cur {
		g.watchLocked(c, x)
	}
	x.cbs = append(x.cbs, f)
	x.registered++
	x.mu.Unlock()
	observe(c, x)
	markSlow(c)
}

// ForgetOnDone takes back f, which g.OnDone registered on c, and c's watch
// on g, unless c's end has claimed its callbacks already: a wait that is
// over (a loop on Completed that broke, or whose context ended) leaves
// nothing on a task that outlives it, whose callbacks would otherwise
// hold every such wait's channel and gate until it ends. A callback taken
// back never runs; one claimed by the end runs as usual. If no callback
// and no done channel is left on c, the watch of its carried context holds
// it weakly again, as before it was observed.
func (g *Gate) ForgetOnDone(c *Task, f func()) {
	x := c.x.Load()
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ended || x.draining {
		return
	}
	p := funcPtr(f)
	for i, h := range x.cbs {
		if funcPtr(h) == p {
			x.cbs = slices.Delete(x.cbs, i, i+1)
			x.registered--
			break
		}
	}
	if g != nil {
		if i := slices.Index(x.gates, g); i >= 0 {
			x.gates = slices.Delete(x.gates, i, i+1)
		}
	}
	if len(x.cbs) == 0 && x.done == nil {
		// Nothing observes c any more: the watch of its carried context
		// holds it weakly again (observe), so that a Lazy task its maker
		// dropped is not kept by that context (I12). An OnDone or Done
		// from now on observes it again.
		x.held.Store(nil)
	}
}

// funcPtr is the identity of a func value: the closure it points to.
func funcPtr(f func()) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&f)) }

// Begin is BeginWait for a wait on g, made with ctx: the slot is lent, and
// the returned function (nil if nothing was lent) takes it back, with cut
// true if ctx ended before what was waited for. last says that a wait that
// is not cut ends with the last of the tasks the caller waits for: none of
// them can then hold a slot, and the slots are waited for, as Await waits
// (Lender.ReclaimGate).
func (g *Gate) Begin(ctx context.Context, last bool) func(cut bool) {
	if g == nil {
		return BeginWait(ctx)
	}
	if waitLender(ctx) != nil {
		// Not g's task that waits, but a function of a group
		// (WithWaitLender): BeginWait lends through it.
		return BeginWait(ctx)
	}
	cur, l := lenderOf(ctx)
	if cur != g.cur || !l.LendGate(g) {
		return BeginWait(ctx) // another task's context, or g's task not running
	}
	return func(cut bool) { l.ReclaimGate(g, cut, last) }
}

// Settle is Lender.Settle for g; a nil g does nothing.
func (g *Gate) Settle() {
	if g != nil {
		g.l.Settle(g)
	}
}

// AddWait adds d to g's count of waits now: owners call it under their
// lock, with 1 in LendGate and -1 in ReclaimGate.
func (g *Gate) AddWait(d int32) { g.waiting.Add(d) }

// CallbacksPending reports whether c has done callbacks registered that
// have yet to run: owners ask, under their lock, for a task they have just
// ended, whether user code follows its end.
func CallbacksPending(c *Task) bool {
	x := c.x.Load()
	if x == nil {
		return false
	}
	x.mu.Lock()
	n := len(x.cbs)
	x.mu.Unlock()
	return n > 0
}

// LentOnce reports whether c has lent its slots once, not in a nested wait;
// owners call it under their lock.
func LentOnce(c *Task) bool { return getX(c).owner == 1 }
