package stress

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strconv"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func (r *round) submitter(i int) {
	defer r.subs.Done()
	defer crashNote(r.seed, r.n)
	defer r.drv.enter()()
	rng := rand.New(rand.NewPCG(r.seed, uint64(i)+1))
	after := 0
	for {
		id, ok := r.claim()
		if !ok {
			return
		}
		r.create(rng, &r.recs[id], id, r.pickScope(rng), 0, r.pickKind(rng, 0), r.pickMode(rng))
		if !r.drain && int64(id) >= r.shutdownAt && r.shutdownOnce.CompareAndSwap(false, true) {
			r.aux.Add(1)
			go r.shutdown(rng.Uint64())
		}
		if r.shutdownStarted.Load() {
			// A few submissions after Shutdown began: they are refused.
			if after++; after > 16 {
				return
			}
		}
		for rng.IntN(100) < opRate {
			r.op(rng)
		}
		if r.pace > 0 && id%32 == 0 {
			r.yield(rng)
		}
	}
}

// yield paces a submitter: while the queue is longer than r.pace it yields
// the processor and runs operations (which cancel the tasks that only a
// cancel ends), a bounded number of times.
func (r *round) yield(rng *rand.Rand) {
	for i := 0; i < 4096 && r.s.Stats().Queued > r.pace; i++ {
		for range 16 {
			runtime.Gosched()
		}
		if i%8 == 7 {
			r.op(rng)
		}
	}
}

func (r *round) awaiter() {
	defer r.awaiters.Done()
	defer r.drv.enter()()
	for h := range r.feed {
		v, err := h.Await(context.Background())
		if !h.State().Terminal() {
			r.v.add("I1", "Await(Background) returned %v with the task %v", err, h.State())
			continue
		}
		if gv, gerr := h.Result(); gv != v || gerr != err {
			r.v.add("I1", "Await = %d, %v; Result = %d, %v", v, err, gv, gerr)
		}
	}
}

func (r *round) pickScope(rng *rand.Rand) *scopeRec {
	if rng.IntN(10) < 3 {
		return r.root
	}
	return r.slots[rng.IntN(nSlots)].Load()
}

func (r *round) pickKind(rng *rand.Rand, depth int) kind {
	x := rng.IntN(1000)
	if depth > 0 {
		switch {
		case x < 30:
			return kError
		case x < 200:
			return kSlow
		case x < 260 && depth < 2:
			return kNested
		}
		return kSucceed
	}
	switch {
	case x < 60:
		return kError
	case x < 100:
		return kPanic
	case x < 130:
		return kGoexit
	case x < 160:
		return kTimeout
	case x < 165:
		if r.calm {
			return kTimeout // a calm round has no task that only a cancel ends
		}
		return kWaitCtx
	case x < 195:
		return kNested
	case x < 300:
		return kSlow
	case x < 315:
		return kAwaitOther
	case x < 330:
		return kScopeWait
	}
	return kSucceed
}

func (r *round) pickMode(rng *rand.Rand) mode {
	switch x := rng.IntN(100); {
	case x < 8:
		return mNewTask
	case x < 14:
		return mUnbound
	}
	return mSubmit
}

// create makes task id of kind k in sr and hands it to the scheduler the
// way md says.
func (r *round) create(rng *rand.Rand, rec *taskRec, id int, sr *scopeRec, depth int, k kind, md mode) {
	rec.id, rec.scope, rec.depth = int32(id), sr, int8(depth)
	rec.kind, rec.mode = k, md
	rec.weight = 1
	if c := sr.capNowPath(); c > 1 && rng.IntN(4) == 0 {
		rec.weight = int32(1 + rng.IntN(min(3, c)))
	}
	if rng.IntN(2000) == 0 {
		rec.weight = int32(sr.capNowPath() + 1) // above the cap: refused
	}
	switch rec.kind {
	case kSlow:
		rec.param = int32(1 + rng.IntN(8))
	case kTimeout:
		rec.param = int32(20 + rng.IntN(480))
	case kNested:
		rec.param = int32(1 + rng.IntN(4))
	case kError:
		rec.err = &taskError{rec.id}
	}
	opts := make([]lazytask.Option, 0, 3)
	if p := rng.IntN(5) - 2; p != 0 {
		opts = append(opts, lazytask.WithPriority(p))
	}
	if rec.weight > 1 {
		opts = append(opts, lazytask.WithWeight(int(rec.weight)))
	}
	if rec.kind == kTimeout {
		opts = append(opts, lazytask.WithTimeout(time.Duration(rec.param)*time.Microsecond))
	}
	if depth == 0 {
		r.planHostile(rng, rec)
		if rec.hookSite != siteNone || rec.cb != 0 {
			opts = append(opts, lazytask.WithName(hostileName+strconv.Itoa(id)))
		}
	}
	fn := r.body(rec)
	if rec.viaThrowaway {
		r.createHostile(rec, sr, fn, opts)
		return
	}

	switch rec.mode {
	case mSubmit:
		h, err := scheduler.Submit(sr.sc, fn, opts...)
		if h == nil {
			r.v.add("errors", "Submit returned a nil handle (err %v)", err)
			return
		}
		rec.submitErr = err
		if err != nil {
			rec.refused.Store(true)
			r.checkRefusal(rec, "Submit", err)
		} else if rng.IntN(500) == 0 {
			rec.cbPanic = true
		}
		r.publish(rec, h)

	case mNewTask:
		h := scheduler.NewTask(sr.sc, fn, opts...)
		if h.State().Terminal() {
			if err := h.Err(); errors.Is(err, scheduler.ErrClosed) || errors.Is(err, scheduler.ErrScopeCanceled) {
				rec.submitErr = err
				rec.refused.Store(true)
			}
		}
		r.publish(rec, h)
		if rec.refused.Load() {
			return
		}
		switch x := rng.IntN(100); {
		case x < 20: // left Lazy: it ends when its scope closes (I10)
		case x < 35:
			r.enqueueLazy(rec, h)
		case x < 45:
			r.force(rng, rec, h)
		default:
			select {
			case r.lazyPool <- rec:
			default:
			}
		}

	case mUnbound:
		h := lazytask.New(fn, opts...)
		if err := sr.sc.Enqueue(h); err != nil {
			rec.submitErr = err
			rec.refused.Store(true)
			r.checkRefusal(rec, "Enqueue", err)
			if !h.Cancel(errUnbound) {
				r.v.add("errors", "task %d: Enqueue failed with %v but left the task %v; want it Lazy", rec.id, err, h.State())
			}
		} else {
			rec.handedOver.Store(true)
			r.enqueueOK.Add(1)
		}
		r.publish(rec, h)
	}
}

// createHostile makes a task whose create or queue hook calls
// runtime.Goexit (Submit or NewTask, on a throwaway goroutine), and checks
// the promise: the task ends with lazytask.ErrCallbackGoexit (Failed or
// Canceled) and never runs.
func (r *round) createHostile(rec *taskRec, sr *scopeRec, fn func(context.Context) (int, error), opts []lazytask.Option) {
	h, err, returned := r.submitHostile(rec, sr, fn, opts)
	if h == nil {
		return
	}
	if returned {
		// The hook did not misbehave (a periodic OnQueue panic came
		// first): an ordinary Submit or NewTask.
		rec.submitErr = err
		if err != nil || (rec.mode == mNewTask && h.State().Terminal()) {
			if rec.mode == mNewTask {
				rec.submitErr = h.Err()
			}
			rec.refused.Store(true)
		}
		r.publish(rec, h)
		return
	}
	switch st, herr := h.State(), h.Err(); {
	case st == lazytask.Failed && errors.Is(herr, lazytask.ErrCallbackGoexit):
		rec.submitErr = herr
	case st == lazytask.Lazy:
		// Left Lazy, bound to no scope: nobody would ever end it. The
		// driver ends it so that the round can be accounted for.
		rec.hookBug = true
		r.v.add("hooks", "task %d (mode %d): its OnCreate hook called runtime.Goexit; the task is left Lazy, bound to no scope", rec.id, rec.mode)
		if !h.Cancel(errUnbound) {
			r.v.add("hooks", "task %d: Lazy after its OnCreate hook's Goexit, yet Cancel failed (%v)", rec.id, h.State())
		}
		rec.submitErr = errUnbound
	default:
		r.v.add("hooks", "task %d (mode %d): its %v hook called runtime.Goexit; the task is %v with %v; want it ended with ErrCallbackGoexit",
			rec.id, rec.mode, rec.hookSite, st, herr)
		rec.submitErr = herr
	}
	rec.refused.Store(true)
	r.publish(rec, h)
}

// publish registers the done callbacks and makes the task visible to the
// operations.
func (r *round) publish(rec *taskRec, h *lazytask.Task[int]) {
	h.OnDone(func(v int, err error) {
		if n := rec.dones.Add(1); n != 1 {
			r.v.add("I2", "task %d: done callback ran %d times", rec.id, n)
		}
		if !h.State().Terminal() {
			r.v.add("I1", "task %d: done callback runs with the task %v", rec.id, h.State())
		}
		if gv, gerr := h.Result(); gv != v || gerr != err {
			r.v.add("I1", "task %d: callback got %d, %v; Result() = %d, %v", rec.id, v, err, gv, gerr)
		}
	})
	if rec.cbPanic {
		h.OnDone(func(int, error) { panic("stress: a done callback panics") })
	}
	if rec.cb != 0 {
		h.OnDone(r.hostileCallback(rec, h))
	}
	if rec.cbPanic || rec.cb != 0 {
		// Runs once, after a callback that panicked or called Goexit (I2).
		h.OnDone(func(int, error) {
			if n := rec.dones2.Add(1); n != 1 {
				r.v.add("I2", "task %d: the callback after a hostile one ran %d times", rec.id, n)
			}
		})
	}
	rec.h.Store(h)
	if rec.kind == kWaitCtx {
		select {
		case r.waitPool <- rec:
		default:
		}
	}
}

// checkRefusal checks the error of a refused Submit or Enqueue (§9).
func (r *round) checkRefusal(rec *taskRec, call string, err error) {
	switch {
	case errors.Is(err, scheduler.ErrClosed), errors.Is(err, scheduler.ErrScopeCanceled):
	case errors.Is(err, scheduler.ErrWeightTooLarge):
		if m := rec.scope.minCapPath(); int64(rec.weight) <= m {
			r.v.add("errors", "task %d: %s refused weight %d with %v; no cap on its path was ever below %d", rec.id, call, rec.weight, err, m)
		}
	default:
		r.v.add("errors", "task %d: %s = %v; want nil, ErrClosed, ErrScopeCanceled or ErrWeightTooLarge", rec.id, call, err)
	}
}

func (r *round) enqueueLazy(rec *taskRec, h *lazytask.Task[int]) {
	err := rec.scope.sc.Enqueue(h)
	switch {
	case err == nil:
		rec.handedOver.Store(true)
		r.enqueueOK.Add(1)
	case errors.Is(err, scheduler.ErrNotQueued), errors.Is(err, scheduler.ErrClosed), errors.Is(err, scheduler.ErrScopeCanceled):
	case errors.Is(err, scheduler.ErrWeightTooLarge) && int64(rec.weight) > rec.scope.minCapPath():
	default:
		r.v.add("errors", "task %d: Enqueue of its bound Lazy task = %v", rec.id, err)
	}
}

// force runs a task now over the cap, in one of three ways.
func (r *round) force(rng *rand.Rand, rec *taskRec, h *lazytask.Task[int]) {
	var err error
	via := rng.IntN(3)
	switch via {
	case 0:
		err = h.Start()
	case 1:
		err = r.s.Force(h)
	case 2:
		err = r.slots[rng.IntN(nSlots)].Load().sc.Force(h)
	}
	switch {
	case err == nil:
		r.forceOK.Add(1)
		rec.handedOver.Store(true)
	case via == 0 && errors.Is(err, lazytask.ErrStarted):
	case via == 0 && errors.Is(err, lazytask.ErrHandingOver):
		// A Start racing a handoff whose hooks run (Enqueue's, in another
		// goroutine): refused, and the handoff goes on.
	case via != 0 && errors.Is(err, scheduler.ErrNotQueued):
	case errors.Is(err, scheduler.ErrClosed), errors.Is(err, scheduler.ErrScopeCanceled):
	default:
		r.v.add("errors", "task %d: force-run (way %d) = %v", rec.id, via, err)
	}
}

// cancelTask cancels a task and, if that ended it before it ran, marks it
// so that its function, should it ever run, reports I4.
func (r *round) cancelTask(rec *taskRec, h *lazytask.Task[int], cause error) {
	// Before the Cancel: its callbacks run in it, and one may end this
	// goroutine (runtime.Goexit) before the marks below.
	rec.cancelTried.Store(true)
	if !h.Cancel(cause) {
		return
	}
	r.cancelOK.Add(1)
	if h.State() == lazytask.Canceled && h.Timings().Started.IsZero() {
		rec.preCanceled.Store(true)
		if n := rec.entries.Load(); n != 0 {
			r.v.add("I4", "task %d: canceled before it ran, yet its function ran %d times", rec.id, n)
		}
		want := cause
		if want == nil {
			want = context.Canceled
		}
		if err := h.Err(); err != want {
			r.v.add("errors", "task %d: Cancel(%v) of an unstarted task: Err() = %v", rec.id, cause, err)
		}
	}
}
