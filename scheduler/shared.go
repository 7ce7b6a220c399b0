package scheduler

import (
	"fmt"
	"math"
	"sync"

	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/limiter"
)

// WithSharedLimit gives the scope (or, for New, the root) a limit shared
// with something outside this scheduler, such as every process of a fleet
// (see limiter.Shared and the redisfleet module). A task of the scope then
// starts only once it holds both its local slots and a shared permit of its
// weight, and gives the permit back when it ends.
//
// The scope asks for one permit at a time, for the task at the head of its
// queue, and only when its local caps have room for that task, so a permit
// never waits on a local slot; it cancels its request, or gives back a
// permit no task took, as soon as it has no queued task. A request made
// for a task that leaves the queue (canceled, expired, force-run), or that
// a task of strictly higher priority (aged, under WithAging) or a promoted
// task comes before, is kept for the new
// head if that head has its weight, and withdrawn for a request of the
// head's weight otherwise (the task passed over asks again when it heads
// the queue). The scheduler's
// lock is never held while the limit is called: a task's permit is given
// back just after its handle reports it done, by the goroutine that ran
// it, so Scheduler.Shutdown, which waits for those goroutines, is what
// promises that every permit is back.
//
// If the limit gives up on a request (Request.Granted with an error), the
// task it was for ends Failed with that error; so does it if Acquire
// panics (a lazytask.PanicError in the error's chain). A panic in a
// permit's Release or a request's cancel is logged with the scheduler's
// logger and goes no further. If a permit is lost while
// its task runs (Request.Lost), the task's context is canceled with the
// cause the limit gives (limiter.ErrLeaseLost). A force-run task (Start,
// Force) runs at once without a shared permit: it is over every cap.
//
// Shared limits do not nest: NewScope refuses WithSharedLimit under a
// scope that has one (ErrInvalidOption), since a task holds a permit of
// the nearest shared limit on its path only. A task that waits for another
// task (Await from inside) lends its local slots, as under any cap, but
// keeps its shared permit: at a shared cap of n, n tasks that each await a
// task they submitted under the same limit wait for ever (the nested
// fan-out that local caps allow). Give such inner tasks a scheduler or
// scope outside the shared limit, or keep the nesting below the shared cap.
//
// A nil limit, or one that holds a nil pointer (the nil *limiter.Local
// of a NewLocal error dropped), is refused with ErrInvalidOption.
func WithSharedLimit(l limiter.Shared) Option {
	return optionFunc(func(c *config) error {
		if l == nil || nilPointer(l) { // a nil *limiter.Local from an error dropped
			return fmt.Errorf("%w: WithSharedLimit(nil)", ErrInvalidOption)
		}
		c.shared = l
		return nil
	})
}

// shared is a scope's side of its shared limit, under s.mu.
type shared struct {
	lim    limiter.Shared
	queued int        // queued tasks of the subtree
	req    *permitReq // the request in flight, or nil
	spare  *permitReq // granted, not yet taken by a task, or nil
	held   map[*core.Task]*permitReq
}

// permitReq is one request for a permit and, once granted, the permit. Its
// fields other than the cancel function are under s.mu.
type permitReq struct {
	sc      *Scope
	weight  int64
	prio    int32      // the request's priority: asked's when asked
	asked   *core.Task // the queued task it was asked for
	task    *core.Task // the task holding the permit
	permit  limiter.Permit
	lost    error
	dropped bool
	// left: the task asked for left the queue (canceled, expired,
	// force-run) before the request was answered.
	left bool

	mu       sync.Mutex // guards cancelFn and canceled, outside s.mu
	cancelFn func()
	canceled bool
}

// sharedReadyLocked reports whether sc, a sharer, may admit c, a head of
// its subtree whose local caps have room, as far as its shared limit goes:
// it holds a spare permit of c's weight. If not, it asks for one, unless a
// request is in flight; the scopes that wait for it park at sc.
func (sc *Scope) sharedReadyLocked(c *core.Task) bool {
	sh := sc.shared
	w := core.Weight(c)
	if r := sh.spare; r != nil {
		if r.weight == w {
			return true
		}
		if core.StateOf(r.asked) == core.Queued {
			// Kept for the task it was asked for while that task heads
			// its scope's queue (admitOne comes to it there). One that a
			// higher priority or a promote put behind another task of its
			// scope is never looked at until that one is admitted, which
			// this permit's weight does not fit: kept, it hung both.
			// One whose scope waits for room at a local cap (resized
			// below it after it asked) is given back too: a permit never
			// waits on a local slot, and kept it held up every other
			// head of the subtree until that slot freed.
			// (The sharer parks both: its own cap must fit it too.)
			if x := sc.s.scopeOf(r.asked); x != nil && x.head == r.asked &&
				(x.in == &sc.s.ready || x.in == &sc.parked) && sc.lim.Fits(r.weight) {
				return false
			}
		}
		sh.spare = nil // its task went another way: give it back, ask anew
		sc.s.later(r.permit.Release)
	}
	if r := sh.req; r != nil && r.weight != w && (r.left || sc.s.takesOverLocked(c, r)) {
		// Asked for a task that left the queue, or of a lower priority
		// than c (which came before it), and of another weight than c's:
		// kept, it would hold c up (and, in a fleet's line, every request
		// behind it) until slots for that task are granted. Withdraw it
		// and ask for c; a task still queued asks again when it heads the
		// queue. One of c's weight is kept: c takes it, with the place it
		// has in the limit's line. Only a strictly higher priority takes
		// the request over, so heads of one priority do not take it from
		// each other in turn.
		sh.req = nil
		r.dropped = true
		sc.s.later(r.cancelReq)
	}
	if sh.req == nil {
		sc.askLocked(c)
	}
	return false
}

// takesOverLocked reports whether c, a head that r's weight does not fit,
// comes strictly before r's task by priority: its own, or with aging
// (WithAging) the one it has aged to, at least one level above r's, so
// that a task that aged past lighter ones of a higher priority keeps its
// request (compared raw, each new one took it, and it starved). r's task
// is still queued (r.left is false). Promotion comes before priorities.
func (s *Scheduler) takesOverLocked(c *core.Task, r *permitReq) bool {
	if pc, pa := core.Promoted(c), core.Promoted(r.asked); pc || pa {
		// Promote puts a task next in line, whatever the priorities: a
		// promoted head takes over the request of one not promoted, or
		// promoted after it (the order promotes keep), and never the
		// other way.
		return pc && (!pa || *core.OrderWord(c) < *core.OrderWord(r.asked))
	}
	step := s.agingStep
	if step <= 0 {
		return core.Priority(c) > r.prio
	}
	a, b := keyOf(c), keyOf(r.asked)
	// Aged priority times step is prio*step - queued; lo is the queued
	// time under aging (keyBefore). At least one level above is
	// d*step - (a.lo-b.lo) >= step, written (d-1)*step >= a.lo-b.lo so
	// that nothing overflows: the product is bounded below, and queued
	// times are positive ns since a base.
	e := a.prio() - b.prio() - 1
	if e != 0 && (e > math.MaxInt64/step || -e > math.MaxInt64/step) {
		return e > 0 // a priority gap no wait in int64 ns can close
	}
	return e*step >= int64(a.lo)-int64(b.lo)
}

// askLocked asks sc's shared limit for a permit for c, after the lock is
// let go.
func (sc *Scope) askLocked(c *core.Task) {
	r := &permitReq{sc: sc, weight: core.Weight(c), prio: core.Priority(c), asked: c}
	sc.shared.req = r
	req := limiter.Request{
		Weight:   r.weight,
		Priority: r.prio,
		Granted:  r.granted,
		Lost:     r.lostCause,
	}
	lim := sc.shared.lim
	sc.s.later(func() {
		cancel, err := acquireGuarded(lim, req)
		if err != nil {
			// The limit panicked: the task asked for ends Failed with the
			// panic, as for a request the limit gave up on, and the next
			// head asks anew (a Granted that came before the panic has
			// answered already, and this one is ignored).
			sc.s.logError("lazysched: shared limit's Acquire panicked", "scope", sc.name, "err", err)
			r.granted(nil, err)
			return
		}
		r.mu.Lock()
		r.cancelFn = cancel
		drop := r.canceled
		r.mu.Unlock()
		if drop && cancel != nil {
			cancel()
		}
	})
}

// acquireGuarded calls lim.Acquire(req), with a panic of the limit's
// turned into an error carrying its value and stack.
func acquireGuarded(lim limiter.Shared, req limiter.Request) (cancel func(), err error) {
	defer func() {
		if p := recover(); p != nil {
			cancel, err = nil, fmt.Errorf("scheduler: the shared limit's Acquire panicked: %w", core.NewPanicError(p))
		}
	}()
	return lim.Acquire(req), nil
}

// cancelReq cancels r's request with the limit, now or once Acquire has
// returned the function to do it; outside s.mu.
func (r *permitReq) cancelReq() {
	r.mu.Lock()
	cancel := r.cancelFn
	already := r.canceled
	r.canceled = true
	r.mu.Unlock()
	if cancel != nil && !already {
		cancel()
	}
}

// granted is the request's Granted.
func (r *permitReq) granted(p limiter.Permit, err error) {
	sc := r.sc
	s := sc.s
	s.lock()
	sh := sc.shared
	if sh.req != r || r.dropped {
		s.unlock()
		if p != nil {
			p.Release() // the scope no longer wants it
		}
		return
	}
	sh.req = nil
	if err != nil {
		// The limit gave up: the task asked for ends Failed with its
		// error, if it is still queued here; the next head asks anew.
		var ended []*core.Task
		if c := r.asked; core.StateOf(c) == core.Queued {
			// Like a task refused at submit, it never ran: no fail-fast.
			if x := s.scopeOf(c); x != nil && x.sharer == sc && x.endUnstartedLocked(c, core.Failed, err) {
				ended = append(ended, c)
			}
		}
		// The scopes parked at sc waited for this request: the next head
		// asks anew, whichever scope of the subtree it is in.
		sc.wakeAllLocked()
		s.admitAllLocked()
		if s.userCodeFollows(ended) {
			// Its done callbacks and hooks run on a goroutine of their
			// own: Granted must not block (limiter.Request), and this
			// may be the limit's goroutine, or one that let the lock go
			// with a task to run next (a task's end whose freed slots
			// admitted it): a callback that awaited that task, or one
			// whose grant the limit's goroutine is to deliver, would
			// wait for ever (I11). Counted before the lock goes, so
			// that Shutdown waits for it.
			s.goTracked(func() { s.finishOutside(ended) })
			s.unlock()
			return
		}
		s.unlockFinishing(ended)
		return
	}
	if p == nil {
		s.unlock()
		panic("scheduler: a shared limit granted a nil permit with no error")
	}
	r.permit = p
	sh.spare = r
	sc.wakeAllLocked()
	s.admitAllLocked()
	s.unlock()
}

// lostCause is the request's Lost: the task holding the permit has its
// context canceled with cause; a spare permit is given back.
func (r *permitReq) lostCause(cause error) {
	if cause == nil {
		cause = limiter.ErrLeaseLost
	}
	sc := r.sc
	s := sc.s
	s.lock()
	if r.lost != nil {
		s.unlock()
		return
	}
	r.lost = cause
	var running *core.Task
	switch sh := sc.shared; {
	case sh.spare == r:
		sh.spare = nil
		s.later(r.permit.Release)
		sc.wakeAllLocked() // asks anew for the head
		s.admitAllLocked()
	case r.task != nil && sh.held[r.task] == r:
		running = r.task
	}
	s.unlock()
	if running != nil {
		core.Cancel(running, cause)
	}
}

// takePermitLocked hands sc's spare permit to c, which is being admitted.
func (sc *Scope) takePermitLocked(c *core.Task) {
	sh := sc.shared
	r := sh.spare
	sh.spare = nil
	r.task = c
	if sh.held == nil {
		sh.held = make(map[*core.Task]*permitReq)
	}
	sh.held[c] = r
	// The scopes parked here waited for this permit (kept for c) or for
	// the request it answered: with it taken, nothing is asked for them,
	// and no task's end wakes them at the root (putPath). The best of
	// them goes back among the candidates, to ask for the next one.
	if h := &sc.parked; h.len() > 0 {
		p := h.top()
		h.remove(p)
		p.woke = nil
		sc.s.ready.push(p)
	}
}

// putPermitLocked gives back the permit c held, if it held one.
func (sc *Scope) putPermitLocked(c *core.Task) {
	sh := sc.shared
	if r := sh.held[c]; r != nil {
		delete(sh.held, c)
		sc.s.later(r.permit.Release)
	}
}

// dropSharedLocked cancels sc's request and gives back its spare permit:
// sc has no queued task left.
func (sc *Scope) dropSharedLocked() {
	sh := sc.shared
	if r := sh.req; r != nil {
		sh.req = nil
		r.dropped = true
		sc.s.later(r.cancelReq)
	}
	if r := sh.spare; r != nil {
		sh.spare = nil
		sc.s.later(r.permit.Release)
	}
}

// later runs f once s.mu is let go, on the goroutine that lets it go: the
// calls into a shared limit, which may take locks of their own and call
// back into the scheduler. If that goroutine is making such a call
// already (the lock was taken and let go inside it), f is made after that
// call returns (callOuts).
func (s *Scheduler) later(f func()) { s.outbox = append(s.outbox, f) }
