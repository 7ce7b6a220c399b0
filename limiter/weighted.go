package limiter

import (
	"container/list"
	"context"
	"sync"
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
	mu      sync.Mutex
	made    bool // by NewWeighted
	limit   int64
	inUse   int64
	waiters list.List // of *waiter, blocked in Acquire, first in first
}

// waiter is an Acquire call blocked until its slots fit.
type waiter struct {
	n     int64
	ready chan struct{} // closed under mu once answered: err says how
	err   error         // nil: admitted (inUse counts it); else ErrWeightTooLarge
}

// NewWeighted returns a Weighted that lets at most limit slots be in use at
// once. It returns [ErrInvalidLimit] if limit is less than 1.
func NewWeighted(limit int64) (*Weighted, error) {
	if limit < 1 {
		return nil, ErrInvalidLimit
	}
	return &Weighted{made: true, limit: limit}, nil
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
		return doneErr(ctx)
	default:
	}
	if n > w.limit {
		w.mu.Unlock()
		return ErrWeightTooLarge
	}
	if w.admit(n) {
		w.mu.Unlock()
		return nil
	}
	wt := &waiter{n: n, ready: make(chan struct{})}
	elem := w.waiters.PushBack(wt)
	w.mu.Unlock()
	select {
	case <-wt.ready:
		return wt.err
	case <-ctx.Done():
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-wt.ready:
		// Answered as ctx ended: leave the limiter unchanged.
		if wt.err == nil {
			w.inUse -= n
			w.grantLocked()
		}
	default:
		front := w.waiters.Front() == elem
		w.waiters.Remove(elem)
		if front {
			w.grantLocked() // it may have held back those behind it
		}
	}
	return doneErr(ctx)
}

// doneErr is ctx.Err() for a ctx whose Done is closed: never nil, so that
// an Acquire cut short by a Context that breaks the contract (Done closed,
// Err still nil) does not read as slots taken. Such a ctx reads
// context.Canceled.
func doneErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return context.Canceled
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

// admit takes n slots if they fit and nobody waits. w.mu is held.
func (w *Weighted) admit(n int64) bool {
	if w.waiters.Len() > 0 || n > w.limit-w.inUse {
		return false
	}
	w.inUse += n
	return true
}

// grantLocked admits the waiters at the head of the line that fit, in
// order: one that does not fit holds back those behind it. w.mu is held.
func (w *Weighted) grantLocked() {
	for e := w.waiters.Front(); e != nil; e = w.waiters.Front() {
		wt := e.Value.(*waiter)
		if wt.n > w.limit-w.inUse {
			return
		}
		w.inUse += wt.n
		w.waiters.Remove(e)
		close(wt.ready)
	}
}

// Release gives back n slots taken by Acquire or TryAcquire, admitting
// waiters that now fit. It panics if n is negative or if more slots are
// released than are in use, as [golang.org/x/sync/semaphore.Weighted.Release] does.
func (w *Weighted) Release(n int64) {
	w.mu.Lock()
	if n < 0 || n > w.inUse {
		w.mu.Unlock()
		panic("limiter: released more than held")
	}
	w.inUse -= n
	w.grantLocked()
	w.mu.Unlock()
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
	if !w.made {
		panic("limiter: Resize on a zero Weighted (make one with NewWeighted)")
	}
	if limit < 1 {
		return ErrInvalidLimit
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.limit = limit
	for e := w.waiters.Front(); e != nil; {
		next := e.Next()
		if wt := e.Value.(*waiter); wt.n > limit {
			wt.err = ErrWeightTooLarge
			w.waiters.Remove(e)
			close(wt.ready)
		}
		e = next
	}
	w.grantLocked()
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
