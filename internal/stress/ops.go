package stress

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// op runs one random operation on the round's tasks, scopes or scheduler.
func (r *round) op(rng *rand.Rand) {
	switch x := rng.IntN(100); {
	case x < 22:
		if rec, h := r.pick(rng); h != nil {
			var cause error = errCancel
			if rng.IntN(4) == 0 {
				cause = nil
			}
			if rng.IntN(4) == 0 {
				// Its callbacks run here: one may call runtime.Goexit.
				r.throwaway(func() { r.cancelTask(rec, h, cause) })
			} else {
				r.cancelTask(rec, h, cause)
			}
		}
	case x < 36:
		r.opPromote(rng)
	case x < 46:
		if rec, h := r.pick(rng); h != nil {
			r.force(rng, rec, h)
		}
	case x < 56:
		r.opLazy(rng)
	case x < 64:
		r.opAwaitShort(rng)
	case x < 70:
		if _, h := r.pick(rng); h != nil {
			select {
			case r.feed <- h:
			default:
			}
		}
	case x < 80:
		select {
		case rec := <-r.waitPool:
			r.cancelTask(rec, rec.h.Load(), errCancel)
		default:
		}
	case x < 84:
		r.resize(r.root, 1+rng.IntN(2*r.baseCap))
	case x < 87:
		if sr := r.slots[rng.IntN(nSlots)].Load(); sr.capped {
			r.resize(sr, 1+rng.IntN(4))
		}
	case x < 92:
		r.opChurn(rng)
	case x < 96:
		r.opStats()
	case x < 99:
		r.opScopeBurst(rng)
	default:
		r.opSnapshot()
	}
}

// pick returns a random task, most often a recent one (more likely still
// queued), and its handle (nil if it is being made).
func (r *round) pick(rng *rand.Rand) (*taskRec, *lazytask.Task[int]) {
	used := r.used()
	if used == 0 {
		return nil, nil
	}
	lo := 0
	if rng.IntN(4) != 0 {
		lo = max(0, used-2000)
	}
	rec := &r.recs[lo+rng.IntN(used-lo)]
	return rec, rec.h.Load()
}

func (r *round) opPromote(rng *rand.Rand) {
	_, h := r.pick(rng)
	if h == nil {
		return
	}
	switch err := r.s.Promote(h); {
	case err == nil:
		r.promoteOK.Add(1)
	case errors.Is(err, scheduler.ErrNotQueued):
	default:
		r.v.add("errors", "Promote = %v; want nil or ErrNotQueued", err)
	}
}

// opLazy takes a bound Lazy task from the pool and enqueues, starts or
// cancels it, or puts it back.
func (r *round) opLazy(rng *rand.Rand) {
	var rec *taskRec
	select {
	case rec = <-r.lazyPool:
	default:
		return
	}
	h := rec.h.Load()
	switch x := rng.IntN(100); {
	case x < 35:
		r.enqueueLazy(rec, h)
	case x < 60:
		r.force(rng, rec, h)
	case x < 75:
		r.cancelTask(rec, h, errCancel)
	default:
		select {
		case r.lazyPool <- rec:
		default:
		}
	}
}

// opAwaitShort awaits a task with a context that ends at once or very soon:
// Await returns the context's cause, and the task goes on (I8).
func (r *round) opAwaitShort(rng *rand.Rand) {
	rec, h := r.pick(rng)
	if h == nil {
		return
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	if rng.IntN(2) == 0 {
		cancel(errShort)
	} else {
		r.aux.Add(1)
		go func() {
			defer r.aux.Done()
			cancel(errShort)
		}()
	}
	v, err := h.Await(ctx)
	cancel(nil)
	if err == errShort {
		r.shortAwaits.Add(1)
		return
	}
	if !h.State().Terminal() {
		r.v.add("I8", "task %d: Await(short ctx) = %v with the task %v; want the ctx's cause", rec.id, err, h.State())
		return
	}
	if gv, gerr := h.Result(); gv != v || gerr != err {
		r.v.add("I1", "task %d: Await = %d, %v; Result() = %d, %v", rec.id, v, err, gv, gerr)
	}
}

// opChurn replaces one of the slot scopes by a new one (a child of the root
// or of another slot scope) and cancels the old one, shuts it down with a
// short grace period, or leaves it for the root's Shutdown.
func (r *round) opChurn(rng *rand.Rand) {
	i := rng.IntN(nSlots)
	old := r.slots[i].Load()
	parent := r.root
	if rng.IntN(3) == 0 {
		if p := r.slots[rng.IntN(nSlots)].Load(); p != old {
			parent = p
		}
	}
	limit := 0
	if rng.IntN(3) != 0 {
		limit = 1 + rng.IntN(max(2, r.baseCap))
	}
	timed := rng.IntN(25) == 0
	sr, err := r.newScope(parent, limit, rng.IntN(4) == 0, rng.IntN(2) == 0, timed, time.Duration(1+rng.IntN(5))*time.Millisecond)
	if err != nil {
		return
	}
	if !r.slots[i].CompareAndSwap(old, sr) {
		return
	}
	switch rng.IntN(3) {
	case 0:
		old.canceled.Store(true)
		if rng.IntN(2) == 0 {
			r.throwaway(func() { old.sc.Cancel(errScopeCancel) })
		} else {
			old.sc.Cancel(errScopeCancel)
		}
		r.scopeCancels.Add(1)
	case 1:
		grace := time.Duration(rng.IntN(2000)) * time.Microsecond
		r.aux.Add(1)
		go func() {
			defer r.aux.Done()
			ctx, cancel := context.WithTimeout(context.Background(), grace)
			defer cancel()
			err := old.sc.Shutdown(ctx)
			old.shut.Store(true)
			switch {
			case err == nil, errors.Is(err, scheduler.ErrClosed), errors.Is(err, context.DeadlineExceeded):
			case old.failFast || old.cancellable():
			default:
				r.v.add("errors", "Scope.Shutdown of %q = %v", old.sc.Name(), err)
			}
			r.scopeShutdowns.Add(1)
		}()
	}
}

// opStats checks the scheduler's counters against the caps (I3).
func (r *round) opStats() {
	st := r.s.Stats()
	if m := r.root.maxCap.Load(); int64(st.InUse) > m {
		r.v.add("I3", "Stats().InUse = %d; the cap was never above %d", st.InUse, m)
	}
	if st.InUse < 0 || st.Queued < 0 || st.Running < 0 || st.OverCap < 0 || st.OverCap > st.Running || st.OverCapSlots < st.OverCap {
		r.v.add("stats", "inconsistent Stats(): %+v", st)
	}
	for {
		m := r.maxOverCap.Load()
		if int64(st.OverCap) <= m || r.maxOverCap.CompareAndSwap(m, int64(st.OverCap)) {
			break
		}
	}
}

// opSnapshot takes a snapshot of the tree (it holds the scheduler's lock
// while it copies) and checks its counts.
func (r *round) opSnapshot() {
	snap := r.s.Snapshot()
	var walk func(s scheduler.ScopeSnapshot)
	walk = func(s scheduler.ScopeSnapshot) {
		if s.Queued < 0 || s.Running < 0 || s.Lazy < 0 || s.InUse < 0 || (s.Limit > 0 && s.Queued+s.Running+s.Lazy < 0) {
			r.v.add("stats", "snapshot of %q: %+v", s.Name, s)
		}
		for _, c := range s.Children {
			walk(c)
		}
	}
	walk(snap)
	if m := r.root.maxCap.Load(); int64(snap.InUse) > m {
		r.v.add("I3", "Snapshot().InUse = %d; the cap was never above %d", snap.InUse, m)
	}
}
