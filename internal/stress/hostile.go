package stress

// Hostile user code: done callbacks that await, submit, cancel and call
// runtime.Goexit; hooks that panic or call runtime.Goexit; tasks that wait
// from inside (Await on another task, Scope.Wait on a child scope); bursts
// of short-lived scopes. DESIGN.md I9, I11 and I12 say what the scheduler
// promises there; the checks below count what it breaks.

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// What a hostile done callback does, in this order (a bit set).
const (
	cbCancel uint8 = 1 << iota // cancels another task
	cbSubmit                   // submits a task (and awaits it if cbAwait)
	cbAwait                    // awaits another task with a context
	cbGoexit                   // calls runtime.Goexit last
)

// hostileEvery: one task of depth 0 in this many gets a hostile callback,
// and in a hooked round one in this many gets a hostile hook.
const hostileEvery = 40

// hookSite is the hook where a hostile task's hooks misbehave.
type hookSite uint8

const (
	siteNone hookSite = iota
	siteCreate
	siteQueue
	siteStart
	siteDone
)

var siteNames = [...]string{"none", "OnCreate", "OnQueue", "OnStart", "OnDone"}

func (s hookSite) String() string { return siteNames[s] }

// hostileName prefixes the name of a task with a hostile hook: the hooks
// find its record by the id after it.
const hostileName = "stress#"

var (
	errCbCancel = errors.New("stress: canceled by a done callback")
)

// hostile counts what the hostile user code did; verify checks the
// scheduler's logs against it.
type hostile struct {
	callbacks, cbAwaits, cbAwaitsShort, cbSubmits, cbCancels atomic.Int64
	cbGoexits, goexitsAvoided                                atomic.Int64
	hookPanics, hookGoexits                                  atomic.Int64
	submitGoexits                                            atomic.Int64 // Submit/NewTask cut short by a create or queue hook
	submitGoexitsCanceled                                    atomic.Int64 // of those, the tasks ended Canceled (not Failed)
	awaitOthers, scopeWaits, scopeBursts, releaseChecks      atomic.Int64
	// ffGoexit: a callback or OnDone hook called runtime.Goexit for a
	// task canceled in a fail-fast subtree, where the scheduler may run
	// it from flushDeferred (the known gap of completion_test.go).
	ffGoexit atomic.Bool
	// batchLost: a task's done callback and then its OnDone hook called
	// runtime.Goexit; where the scheduler finished a batch of ended
	// tasks, the rest of the batch is lost (bugs_test.go, open).
	// batchEnds are the end times of those tasks: the lost ones ended
	// with them, in the same batch.
	batchLost atomic.Bool
	batchMu   sync.Mutex
	batchEnds []time.Time
}

// inLostBatch reports whether a task that ended at end may have been in
// a batch after one whose callback and OnDone hook called runtime.Goexit.
func (x *hostile) inLostBatch(end time.Time) bool {
	if !x.batchLost.Load() {
		return false
	}
	x.batchMu.Lock()
	defer x.batchMu.Unlock()
	for _, t := range x.batchEnds {
		if !end.Before(t) && end.Sub(t) < time.Second {
			return true
		}
	}
	return false
}

// driverG records the goroutines of the driver (submitters, awaiters, the
// round's own, the Shutdown caller): user code that runs on them must not
// call runtime.Goexit, which would end the driver's work half done. Every
// other goroutine (the scheduler's, and the throwaway goroutines the
// driver starts for hostile calls) may be ended.
type driverG struct{ m sync.Map }

// enter records the calling goroutine as the driver's; the returned
// function forgets it.
func (d *driverG) enter() func() {
	id := goid()
	d.m.Store(id, struct{}{})
	return func() { d.m.Delete(id) }
}

func (d *driverG) onDriver() bool {
	_, ok := d.m.Load(goid())
	return ok
}

// goid returns the calling goroutine's id, read from its stack header
// ("goroutine 123 [running]:"). It is slow (about a microsecond) and only
// used by hostile code before it calls runtime.Goexit.
func goid() uint64 {
	var buf [40]byte
	n := runtime.Stack(buf[:], false)
	s := strings.TrimPrefix(string(buf[:n]), "goroutine ")
	var id uint64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		id = id*10 + uint64(s[i]-'0')
	}
	return id
}

// throwaway runs f on a goroutine of its own and waits for it; it reports
// whether f returned (false: it called runtime.Goexit, or user code it ran
// did).
func (r *round) throwaway(f func()) (returned bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
		returned = true
	}()
	<-done
	return returned
}

// planHostile picks, for a task of depth 0, a hostile done callback and
// (in a hooked round) a hostile hook.
func (r *round) planHostile(rng *rand.Rand, rec *taskRec) {
	if rng.IntN(hostileEvery) == 0 {
		rec.cb = uint8(1 + rng.IntN(15))
	}
	if !r.hooked || rng.IntN(hostileEvery) != 0 {
		return
	}
	rec.hookPanic = rng.IntN(2) == 0
	switch rec.mode {
	case mSubmit:
		rec.hookSite = hookSite(1 + rng.IntN(4))
	case mNewTask:
		// NewTask fires OnCreate; a later Enqueue fires OnQueue on a
		// goroutine of the driver's, so OnQueue stays quiet.
		rec.hookSite = []hookSite{siteCreate, siteStart, siteDone}[rng.IntN(3)]
	default:
		rec.hookSite = hookSite(3 + rng.IntN(2))
	}
	if !rec.hookPanic && (rec.hookSite == siteCreate || rec.hookSite == siteQueue) {
		rec.viaThrowaway = true
	}
}

// hostileRec returns the record of a task named by the driver, or nil.
func (r *round) hostileRec(h lazytask.Handle) *taskRec {
	name := h.Name()
	if name == "" {
		return nil
	}
	s, ok := strings.CutPrefix(name, hostileName)
	if !ok {
		return nil
	}
	id, err := strconv.Atoi(s)
	if err != nil || id < 0 || id >= len(r.recs) {
		r.v.add("hooks", "a hook got a task named %q", name)
		return nil
	}
	return &r.recs[id]
}

// hookMisbehave runs in the first tracker's hook at site: for a task whose
// hook is hostile there, it panics or calls runtime.Goexit (a panic instead
// on a goroutine of the driver's).
func (r *round) hookMisbehave(site hookSite, h lazytask.Handle) {
	rec := r.hostileRec(h)
	if rec == nil {
		return
	}
	if site == siteCreate {
		if t, ok := h.(*lazytask.Task[int]); ok {
			rec.hookH.Store(t)
		}
	}
	if rec.hookSite != site || !rec.hookFired.CompareAndSwap(false, true) {
		return
	}
	if !rec.hookPanic && !r.drv.onDriver() {
		r.hx.hookGoexits.Add(1)
		if site == siteDone && rec.cbGoexited.Load() {
			// On finishOne's recovery goroutine this loses the rest of
			// a batch (bugs_test.go).
			r.hx.batchMu.Lock()
			r.hx.batchEnds = append(r.hx.batchEnds, h.Timings().Finished)
			r.hx.batchMu.Unlock()
			r.hx.batchLost.Store(true)
		}
		if site == siteDone && h.State() == lazytask.Canceled && rec.scope.failFastPath() {
			r.hx.ffGoexit.Store(true) // as a callback's, in flushDeferred
		}
		runtime.Goexit()
	}
	if !rec.hookPanic {
		r.hx.goexitsAvoided.Add(1)
	}
	r.hx.hookPanics.Add(1)
	panic("stress: a hostile " + site.String() + " hook panics")
}

// submitHostile makes a task whose create or queue hook calls
// runtime.Goexit, on a throwaway goroutine: Submit (or NewTask) never
// returns there. The scheduler promises that the task then ends with
// lazytask.ErrCallbackGoexit (its comment says Failed; it ends Canceled)
// and never runs. It returns the handle (seen by the OnCreate hook) and
// whether the creating call returned.
func (r *round) submitHostile(rec *taskRec, sr *scopeRec, fn func(context.Context) (int, error), opts []lazytask.Option) (*lazytask.Task[int], error, bool) {
	var h *lazytask.Task[int]
	var err error
	returned := r.throwaway(func() {
		if rec.mode == mNewTask {
			h = scheduler.NewTask(sr.sc, fn, opts...)
		} else {
			h, err = scheduler.Submit(sr.sc, fn, opts...)
		}
	})
	if returned {
		if rec.hookFired.Load() {
			r.v.add("hooks", "task %d: %v hook called runtime.Goexit, yet the creating call returned", rec.id, rec.hookSite)
		}
		return h, err, true
	}
	r.hx.submitGoexits.Add(1)
	h = rec.hookH.Load()
	if h == nil {
		r.v.add("hooks", "task %d: the creating call exited but OnCreate never saw the task", rec.id)
		return nil, nil, false
	}
	return h, nil, false
}

// hostileCallback is the done callback of a task with rec.cb set.
func (r *round) hostileCallback(rec *taskRec, h *lazytask.Task[int]) func(int, error) {
	return func(int, error) {
		r.hx.callbacks.Add(1)
		// exited stays true if the callback ends by runtime.Goexit: its
		// own, or one from the callbacks of a task it cancels, which run
		// inside its Cancel call. The scheduler logs either.
		exited := true
		defer func() {
			if !exited {
				return
			}
			rec.cbGoexited.Store(true)
			if h.State() == lazytask.Canceled && rec.scope.failFastPath() {
				r.hx.ffGoexit.Store(true)
			}
			r.hx.cbGoexits.Add(1)
		}()
		rng := rand.New(rand.NewPCG(r.seed, uint64(rec.id)<<8|0xcb))
		if rec.cb&cbCancel != 0 {
			if t, th := r.pick(rng); th != nil && t != rec {
				t.cancelTried.Store(true)
				if th.Cancel(errCbCancel) {
					r.hx.cbCancels.Add(1)
					r.markPreCanceled(t, th, errCbCancel)
				}
			}
		}
		var target *taskRec
		if rec.cb&cbSubmit != 0 {
			if id, ok := r.claim(); ok {
				target = &r.recs[id]
				r.create(rng, target, id, r.pickScope(rng), 1, r.pickKind(rng, 1), mSubmit)
				r.hx.cbSubmits.Add(1)
			}
		}
		if rec.cb&cbAwait != 0 {
			if target == nil {
				target, _ = r.pick(rng)
			}
			if target != nil && target != rec {
				r.callbackAwait(rng, rec, target)
			}
		}
		if rec.cb&cbGoexit != 0 {
			if !r.drv.onDriver() {
				runtime.Goexit()
			}
			r.hx.goexitsAvoided.Add(1)
		}
		exited = false
	}
}

// callbackAwait awaits target from a done callback. In a calm round (no
// task that only a cancel ends) every task the callback may await ends on
// its own, so the Await must return (I11: a callback that awaits another
// task cannot deadlock); in the others it awaits briefly (I8).
func (r *round) callbackAwait(rng *rand.Rand, rec, target *taskRec) {
	th := target.h.Load()
	if th == nil || th.State() == lazytask.Lazy {
		return // a Lazy task may wait for its scope's end: not a deadlock
	}
	limit := time.Duration(rng.IntN(2000)) * time.Microsecond
	if r.calm {
		limit = r.cfg.DrainTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	v, err := th.Await(ctx)
	r.hx.cbAwaits.Add(1)
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// The context ended first (the task may have ended since).
		if r.calm && !th.State().Terminal() {
			r.v.add("I11", "task %d: a done callback's Await of task %d (%v, %v) still waits after %v; stats %+v",
				rec.id, target.id, target.kind, th.State(), limit, r.s.Stats())
		}
		r.hx.cbAwaitsShort.Add(1)
		return
	}
	if !th.State().Terminal() {
		r.v.add("I8", "task %d: a done callback's Await of task %d = %v with the task %v", rec.id, target.id, err, th.State())
		return
	}
	if gv, gerr := th.Result(); gv != v || gerr != err {
		r.v.add("I1", "task %d: a done callback's Await of task %d = %d, %v; Result() = %d, %v", rec.id, target.id, v, err, gv, gerr)
	}
}

// markPreCanceled marks a task that a Cancel ended before it ran, as
// cancelTask does.
func (r *round) markPreCanceled(rec *taskRec, h *lazytask.Task[int], cause error) {
	if h.State() == lazytask.Canceled && h.Timings().Started.IsZero() {
		rec.preCanceled.Store(true)
		if n := rec.entries.Load(); n != 0 {
			r.v.add("I4", "task %d: canceled before it ran, yet its function ran %d times", rec.id, n)
		}
		if err := h.Err(); err != cause {
			r.v.add("errors", "task %d: Cancel(%v) of an unstarted task: Err() = %v", rec.id, cause, err)
		}
	}
}

// awaitOther is the body of a kAwaitOther task: it awaits an older task
// (never a Lazy one) with its own context, lending its slot (I9). Older
// only: no cycle of awaits. It returns 1 if it awaited one.
func (r *round) awaitOther(ctx context.Context, rec *taskRec, held *bool) (int, error) {
	rng := rand.New(rand.NewPCG(r.seed, uint64(rec.id)<<8|0xa1))
	var th *lazytask.Task[int]
	for range 4 {
		if t, h := r.pick(rng); h != nil && t.id < rec.id && h.State() != lazytask.Lazy {
			th = h
			break
		}
	}
	if th == nil {
		return 0, nil
	}
	r.hx.awaitOthers.Add(1)
	if *held {
		r.give(rec)
		*held = false
	}
	_, err := th.Await(ctx)
	*held = r.take(ctx, rec)
	if ctx.Err() != nil {
		return 0, context.Cause(ctx)
	}
	if !th.State().Terminal() {
		r.v.add("I8", "task %d: Await of an older task = %v with that task %v and the awaiter's context live", rec.id, err, th.State())
	}
	rec.kids.Store(1)
	return 1, nil
}

// scopeWait is the body of a kScopeWait task: it makes a child scope of its
// own scope with a small cap, gives it a few tasks, waits for it with its
// own context (lending its slot, I9), then cancels it, shuts it down or
// leaves it. It returns the number of tasks it gave the scope.
func (r *round) scopeWait(ctx context.Context, rec *taskRec, held *bool) (int, error) {
	rng := rand.New(rand.NewPCG(r.seed, uint64(rec.id)<<8|0x5c))
	timed := rng.IntN(6) == 0
	sr, err := r.newScope(rec.scope, 1+rng.IntN(2), rng.IntN(3) == 0, rng.IntN(2) == 0, timed, time.Duration(50+rng.IntN(2000))*time.Microsecond)
	if err != nil {
		return 0, err
	}
	r.hx.scopeWaits.Add(1)
	n := 0
	for range 1 + rng.IntN(3) {
		id, ok := r.claim()
		if !ok {
			break
		}
		r.create(rng, &r.recs[id], id, sr, int(rec.depth)+1, r.pickKind(rng, int(rec.depth)+1), mSubmit)
		n++
	}
	if *held {
		r.give(rec)
		*held = false
	}
	werr := sr.sc.Wait(ctx)
	switch rng.IntN(3) {
	case 0:
		sr.canceled.Store(true)
		sr.sc.Cancel(errScopeCancel)
	case 1:
		gctx, cancel := context.WithTimeout(ctx, time.Duration(rng.IntN(500))*time.Microsecond)
		_ = sr.sc.Shutdown(gctx)
		cancel()
		sr.shut.Store(true)
	}
	*held = r.take(ctx, rec)
	rec.kids.Store(int32(n))
	if werr != nil {
		return 0, werr
	}
	return n, nil
}

// opScopeBurst makes a short-lived scope, gives it a few tasks, and ends it
// at once: cancels it (sometimes on a throwaway goroutine, so that a
// callback's runtime.Goexit may end it), shuts it down with a short grace
// period, or leaves it to its timeout or the round's Shutdown (I12).
func (r *round) opScopeBurst(rng *rand.Rand) {
	parent := r.root
	if rng.IntN(2) == 0 {
		parent = r.slots[rng.IntN(nSlots)].Load()
	}
	timed := rng.IntN(2) == 0
	sr, err := r.newScope(parent, rng.IntN(3), rng.IntN(4) == 0, rng.IntN(2) == 0, timed, time.Duration(50+rng.IntN(3000))*time.Microsecond)
	if err != nil {
		return
	}
	r.hx.scopeBursts.Add(1)
	for range 1 + rng.IntN(6) {
		id, ok := r.claim()
		if !ok {
			break
		}
		r.create(rng, &r.recs[id], id, sr, 1, r.pickKind(rng, 1), mSubmit)
	}
	switch rng.IntN(4) {
	case 0:
		sr.canceled.Store(true)
		if rng.IntN(2) == 0 {
			r.throwaway(func() { sr.sc.Cancel(errScopeCancel) })
		} else {
			sr.sc.Cancel(errScopeCancel)
		}
		r.scopeCancels.Add(1)
	case 1:
		grace := time.Duration(rng.IntN(1000)) * time.Microsecond
		r.aux.Add(1)
		go func() {
			defer r.aux.Done()
			ctx, cancel := context.WithTimeout(context.Background(), grace)
			defer cancel()
			_ = sr.sc.Shutdown(ctx)
			sr.shut.Store(true)
			r.scopeShutdowns.Add(1)
		}()
	}
}

// checkReleased is run in a drained round once the scheduler is idle: a
// scope that was canceled, timed out or shut down must be gone from the
// tree (I12), after a moment for the timeouts' goroutines.
func (r *round) checkReleased() {
	r.scopesMu.Lock()
	scopes := append([]*scopeRec(nil), r.scopes...)
	r.scopesMu.Unlock()
	var ended []*scopeRec
	for _, sr := range scopes {
		if sr != r.root && (sr.sc.Context().Err() != nil || sr.shut.Load()) {
			ended = append(ended, sr)
		}
	}
	if len(ended) == 0 {
		return
	}
	r.hx.releaseChecks.Add(int64(len(ended)))
	var left []string
	settle(func() bool {
		names := make(map[string]bool)
		var walk func(s scheduler.ScopeSnapshot)
		walk = func(s scheduler.ScopeSnapshot) {
			names[s.Name] = true
			for _, c := range s.Children {
				walk(c)
			}
		}
		walk(r.s.Snapshot())
		left = left[:0]
		for _, sr := range ended {
			if names[sr.sc.Name()] {
				left = append(left, sr.sc.Name())
			}
		}
		return len(left) == 0
	})
	if len(left) > 0 {
		r.v.add("I12", "%d of %d ended scopes still in the tree with the scheduler idle, e.g. %q", len(left), len(ended), left[:min(5, len(left))])
	}
}
