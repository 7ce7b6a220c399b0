package limiter

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
)

// Local is a [Shared] limit kept in this process: several schedulers (or
// several scopes of one) given the same Local share its cap. It grants in
// priority order, then in request order; a request that does not fit
// holds back those behind it, so a heavy one is not overtaken forever.
// Its permits are never lost. A request's Granted runs on the goroutine
// of the call that granted it (Acquire, a Release, a cancel); one that
// panics is recovered and logged, and its permit released.
//
// Make one with [NewLocal]; the zero value is not usable.
type Local struct {
	mu      sync.Mutex
	limit   int64
	inUse   int64
	seq     uint64
	waiting []*localReq // in grant order
}

type localReq struct {
	l        *Local
	req      Request
	seq      uint64
	done     bool // granted or canceled
	released bool
}

// NewLocal returns a Local limit of limit slots; limit must be at least 1
// ([ErrInvalidLimit]).
func NewLocal(limit int64) (*Local, error) {
	if limit < 1 {
		return nil, fmt.Errorf("%w: %d", ErrInvalidLimit, limit)
	}
	return &Local{limit: limit}, nil
}

// Acquire implements [Shared]. A request heavier than the limit is answered
// with [ErrWeightTooLarge], one of weight below 1 with [ErrInvalidWeight].
func (l *Local) Acquire(req Request) (cancel func()) {
	if req.Granted == nil {
		panic("limiter: Local.Acquire with a nil Request.Granted")
	}
	switch {
	case req.Weight < 1:
		req.Granted(nil, fmt.Errorf("%w: %d", ErrInvalidWeight, req.Weight))
		return func() {}
	case req.Weight > l.limit:
		req.Granted(nil, fmt.Errorf("%w: weight %d, limit %d", ErrWeightTooLarge, req.Weight, l.limit))
		return func() {}
	}
	l.mu.Lock()
	l.seq++
	r := &localReq{l: l, req: req, seq: l.seq}
	i, _ := slices.BinarySearchFunc(l.waiting, r, func(a, b *localReq) int {
		if a.req.Priority != b.req.Priority {
			if a.req.Priority > b.req.Priority {
				return -1
			}
			return 1
		}
		if a.seq < b.seq {
			return -1
		}
		return 1
	})
	l.waiting = slices.Insert(l.waiting, i, r)
	granted := l.grantLocked()
	l.mu.Unlock()
	deliver(granted)
	return r.cancel
}

// grantLocked grants the requests at the head of the line that fit.
func (l *Local) grantLocked() []*localReq {
	var out []*localReq
	for len(l.waiting) > 0 && l.inUse+l.waiting[0].req.Weight <= l.limit {
		r := l.waiting[0]
		l.waiting = l.waiting[1:]
		l.inUse += r.req.Weight
		r.done = true
		out = append(out, r)
	}
	return out
}

// deliver tells the requests granted by one call, on that call's
// goroutine. A Granted that panics is recovered and logged (slog's
// default logger, with the stack), as redisfleet's Limit does, and its
// permit is released, since nothing can be trusted to hold it: the panic
// must neither keep the requests after it in rs from being told (their
// slots would stay taken for ever) nor reach the caller, whose request
// it was not.
func deliver(rs []*localReq) {
	for _, r := range rs {
		if grant(r) {
			r.Release()
		}
	}
}

func grant(r *localReq) (panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			panicked = true
			slog.Error("limiter: a Local request's Granted panicked", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	r.req.Granted(r, nil)
	return false
}

func (r *localReq) cancel() {
	l := r.l
	l.mu.Lock()
	if r.done {
		l.mu.Unlock()
		return
	}
	r.done = true
	if i := slices.Index(l.waiting, r); i >= 0 {
		l.waiting = slices.Delete(l.waiting, i, i+1)
	}
	granted := l.grantLocked() // it may have held back those behind it
	l.mu.Unlock()
	deliver(granted)
}

// Release implements [Permit].
func (r *localReq) Release() {
	l := r.l
	l.mu.Lock()
	if r.released {
		l.mu.Unlock()
		return
	}
	r.released = true
	l.inUse -= r.req.Weight
	granted := l.grantLocked()
	l.mu.Unlock()
	deliver(granted)
}

// InUse returns the slots held by granted permits.
func (l *Local) InUse() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inUse
}

// Waiting returns the number of requests waiting for a permit.
func (l *Local) Waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.waiting)
}
