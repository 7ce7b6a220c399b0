package limiter

import (
	"context"
	"math"
	"sync"

	"golang.org/x/sync/semaphore"
)

// Weighted is a weighted semaphore whose limit can change while it is in use.
// Callers acquire slots with [Weighted.Acquire] or [Weighted.TryAcquire] and
// give them back with [Weighted.Release]. Waiters are admitted in first-in,
// first-out order, so a large request is not starved by small ones.
//
// A call to Release or Resize that lets a blocked Acquire through
// synchronizes before that Acquire returns.
//
// Weighted is safe for concurrent use. The zero value is not usable: create
// one with [NewWeighted]. (A zero Weighted refuses every slot, as one of
// limit 0 would: Acquire returns ErrWeightTooLarge, TryAcquire false, and
// Resize panics with a message that names the mistake.) A Weighted must
// not be copied after first use.
type Weighted struct {
	// sem has room for math.MaxInt64 slots. Of those, the Weighted itself
	// holds a reserve of math.MaxInt64-limit-debt, so sem has
	// limit+debt-inUse slots free, less those it has just handed to waiters
	// that have not yet locked mu. Debt is what Resize could not take back at
	// once when it lowered the limit; Release pays it before giving slots to
	// sem. Every admission checks inUse against limit under mu, so the slots
	// that the debt leaves free in sem never let inUse pass the limit.
	sem *semaphore.Weighted

	mu      sync.Mutex
	limit   int64
	inUse   int64
	debt    int64
	waiters map[*waiter]struct{} // blocked in Acquire; Resize fails those above the limit
}

// waiter is an Acquire call blocked in sem.
type waiter struct {
	n      int64
	cancel context.CancelCauseFunc
}

// NewWeighted returns a Weighted that lets at most limit slots be in use at
// once. It returns [ErrInvalidLimit] if limit is less than 1.
func NewWeighted(limit int64) (*Weighted, error) {
	if limit < 1 {
		return nil, ErrInvalidLimit
	}
	w := &Weighted{sem: semaphore.NewWeighted(math.MaxInt64), limit: limit}
	w.sem.TryAcquire(math.MaxInt64 - limit) // cannot fail: sem is new
	return w, nil
}

// Acquire takes n slots, blocking until they fit under the limit or ctx is
// done. On success it returns nil. On failure it returns an error and leaves
// the limiter unchanged:
//   - [ErrInvalidWeight] at once if n is less than 1;
//   - ctx.Err() if ctx is done, even if the slots are free when Acquire is
//     called;
//   - [ErrWeightTooLarge] at once if n is above the limit, or as soon as
//     [Weighted.Resize] lowers the limit below n while Acquire waits.
func (w *Weighted) Acquire(ctx context.Context, n int64) error {
	if n < 1 {
		return ErrInvalidWeight
	}
	w.mu.Lock()
	select {
	case <-ctx.Done():
		w.mu.Unlock()
		return ctx.Err()
	default:
	}
	if n > w.limit {
		w.mu.Unlock()
		return ErrWeightTooLarge
	}
	ok := w.admit(n)
	w.mu.Unlock()
	if ok {
		return nil
	}
	return w.acquireSlow(ctx, n)
}

// acquireSlow waits in sem for n slots on behalf of Acquire.
func (w *Weighted) acquireSlow(ctx context.Context, n int64) error {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wt := &waiter{n: n, cancel: cancel}
	w.mu.Lock()
	if n > w.limit { // Resize may have run since Acquire unlocked mu.
		w.mu.Unlock()
		return ErrWeightTooLarge
	}
	if w.waiters == nil {
		w.waiters = make(map[*waiter]struct{})
	}
	w.waiters[wt] = struct{}{}
	w.mu.Unlock()
	for {
		err := w.sem.Acquire(wctx, n)
		w.mu.Lock()
		switch {
		case err != nil:
			delete(w.waiters, wt)
			w.mu.Unlock()
			if err := ctx.Err(); err != nil {
				return err
			}
			return ErrWeightTooLarge // Resize cancelled wctx.
		case n > w.limit:
			delete(w.waiters, wt)
			w.giveBack(n)
			w.mu.Unlock()
			return ErrWeightTooLarge
		case n <= w.limit-w.inUse:
			delete(w.waiters, wt)
			w.inUse += n
			w.mu.Unlock()
			return nil
		}
		// sem let us in on slots that the debt left free: pay the debt
		// with them and wait again.
		w.giveBack(n)
		w.mu.Unlock()
	}
}

// TryAcquire is the non-blocking form of [Weighted.Acquire]: it takes n
// slots only if it can do so at once, and reports whether it took
// them; on failure it leaves the limiter unchanged. It fails if n is less
// than 1, if the slots do not fit under the limit, or if an Acquire call is
// already waiting: TryAcquire does not jump the queue.
func (w *Weighted) TryAcquire(n int64) bool {
	if n < 1 {
		return false
	}
	w.mu.Lock()
	ok := w.admit(n)
	w.mu.Unlock()
	return ok
}

// admit takes n slots if they fit and nobody waits in sem. w.mu is held.
func (w *Weighted) admit(n int64) bool {
	if n > w.limit-w.inUse || !w.sem.TryAcquire(n) {
		return false
	}
	w.inUse += n
	return true
}

// Release gives back n slots taken by Acquire or TryAcquire, admitting
// waiters that now fit. It panics if n is negative or if more slots are
// released than are in use, as [semaphore.Weighted.Release] does.
func (w *Weighted) Release(n int64) {
	w.mu.Lock()
	if n < 0 || n > w.inUse {
		w.mu.Unlock()
		panic("limiter: released more than held")
	}
	w.inUse -= n
	w.giveBack(n)
	w.mu.Unlock()
}

// giveBack returns n slots to sem, paying the debt first. w.mu is held.
func (w *Weighted) giveBack(n int64) {
	paid := min(w.debt, n)
	w.debt -= paid
	if n > paid {
		w.sem.Release(n - paid)
	}
}

// Resize sets the limit, without blocking. It returns [ErrInvalidLimit],
// leaving the limiter unchanged, if limit is less than 1.
//
// Raising the limit admits the waiters that now fit at once. Lowering it
// revokes nothing: holders keep their slots and [Weighted.InUse] may stay
// above the limit until they release them, while new acquirers wait until
// their slots fit under the new limit. Acquire calls waiting for more slots
// than the new limit fail with [ErrWeightTooLarge].
func (w *Weighted) Resize(limit int64) error {
	if w.sem == nil {
		panic("limiter: Resize on a zero Weighted (make one with NewWeighted)")
	}
	if limit < 1 {
		return ErrInvalidLimit
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if limit >= w.limit {
		w.giveBack(limit - w.limit)
		w.limit = limit
		return nil
	}
	w.debt += w.limit - limit
	w.limit = limit
	// Take back what sem has free now; Release pays the rest. TryAcquire
	// fails while Acquire calls wait in sem: then the admission check in
	// acquireSlow pays the debt instead.
	if t := min(w.debt, limit+w.debt-w.inUse); t > 0 && w.sem.TryAcquire(t) {
		w.debt -= t
	}
	for wt := range w.waiters {
		if wt.n > limit {
			wt.cancel(ErrWeightTooLarge)
			delete(w.waiters, wt)
		}
	}
	return nil
}

// Limit returns the current limit.
func (w *Weighted) Limit() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.limit
}

// InUse returns the number of slots held by callers: taken by Acquire or
// TryAcquire and not yet released. It may exceed [Weighted.Limit] after the
// limit is lowered.
func (w *Weighted) InUse() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.inUse
}
