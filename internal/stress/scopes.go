package stress

import (
	"sync/atomic"

	"github.com/lazysched/lazysched/scheduler"
)

// scopeRec is the driver's record of one scope: where it sits, what policy
// and cap it has, and what the tasks running in it hold, counted by the
// tasks themselves (I3).
type scopeRec struct {
	sc       *scheduler.Scope
	parent   *scopeRec
	capped   bool // it has a cap of its own (the root always has)
	failFast bool
	handler  bool // a supervisor with its own handler (else the logger)
	timed    bool // made WithTimeout: it cancels itself

	// canceled is set before the driver calls Cancel on the scope; shut
	// once a Shutdown of it has returned.
	canceled, shut atomic.Bool

	// cur is the weight of the non-forced task functions of the subtree
	// running now, as they count themselves; peak is its highest value.
	cur, peak atomic.Int64
	// maxCap and minCap are the highest and lowest caps ever set (raised
	// before a Resize up, lowered before a Resize down); capNow the last.
	maxCap, minCap, capNow atomic.Int64

	// Reports its handler received: task errors and child scope errors.
	reports, scopeReports atomic.Int64

	joined int // verify: errors in a fail-fast scope's Err()
}

func newScopeRec(sc *scheduler.Scope, parent *scopeRec, limit int) *scopeRec {
	sr := &scopeRec{sc: sc, parent: parent, capped: limit > 0}
	if limit > 0 {
		sr.maxCap.Store(int64(limit))
		sr.minCap.Store(int64(limit))
		sr.capNow.Store(int64(limit))
	}
	return sr
}

// cancellable reports whether the scope or one of its ancestors may have
// been canceled (by the driver, by a fail-fast failure or by a timeout), so
// that its Lazy tasks may end with another cause than ErrScopeClosed.
func (sr *scopeRec) cancellable() bool {
	for p := sr; p != nil; p = p.parent {
		if p.failFast || p.timed || p.canceled.Load() {
			return true
		}
	}
	return false
}

// failFastPath reports whether the scope or an ancestor is fail-fast.
func (sr *scopeRec) failFastPath() bool {
	for p := sr; p != nil; p = p.parent {
		if p.failFast {
			return true
		}
	}
	return false
}

// timedPath reports whether the scope or an ancestor was made with a
// timeout.
func (sr *scopeRec) timedPath() bool {
	for p := sr; p != nil; p = p.parent {
		if p.timed {
			return true
		}
	}
	return false
}

// capNowPath is the lowest current cap on the path to the root.
func (sr *scopeRec) capNowPath() int {
	m := int64(1 << 30)
	for p := sr; p != nil; p = p.parent {
		if p.capped {
			m = min(m, p.capNow.Load())
		}
	}
	return int(m)
}

// minCapPath is the lowest cap ever set on the path to the root: a weight
// above it may be refused with ErrWeightTooLarge.
func (sr *scopeRec) minCapPath() int64 {
	m := int64(1 << 62)
	for p := sr; p != nil; p = p.parent {
		if p.capped {
			m = min(m, p.minCap.Load())
		}
	}
	return m
}

func (sr *scopeRec) notePeak(v int64) {
	for {
		p := sr.peak.Load()
		if v <= p || sr.peak.CompareAndSwap(p, v) {
			return
		}
	}
}

// setCapBounds widens [minCap, maxCap] to include n before a Resize to n.
func (sr *scopeRec) setCapBounds(n int64) {
	for {
		m := sr.maxCap.Load()
		if n <= m || sr.maxCap.CompareAndSwap(m, n) {
			break
		}
	}
	for {
		m := sr.minCap.Load()
		if n >= m || sr.minCap.CompareAndSwap(m, n) {
			break
		}
	}
	sr.capNow.Store(n)
}
