package scheduler

import (
	"errors"

	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/lazytask"
)

// policy is what a scope does with a task error.
type policy uint8

const (
	supervise policy = iota // report to the handler, siblings go on
	failFast                // collect, cancel the scope
)

// deferredReport is a handler call decided under the lock and made outside.
type deferredReport struct {
	sc   *Scope
	info lazytask.Info
	err  error
}

// failLocked applies sc's policy to a task error, under s.mu. A fail-fast
// scope records every error; its first one cancels its subtree and reaches
// the parent as one ScopeError, under the parent's policy.
func (sc *Scope) failLocked(err error) {
	if sc.policy != failFast {
		return
	}
	s := sc.s
	sc.errs = append(sc.errs, err)
	if sc.failed {
		return
	}
	sc.failed = true
	s.deferred = append(s.deferred, sc.cancelTreeLocked(err)...)
	p := sc.parent
	if p == nil {
		return
	}
	up := &ScopeError{Scope: sc.name, Err: err}
	if p.policy == failFast {
		p.failLocked(up)
		return
	}
	s.reports = append(s.reports, deferredReport{sc: p, info: lazytask.Info{Options: lazytask.Options{Name: sc.name}, Scope: p.name, State: lazytask.Failed, Err: up}, err: up})
}

// reportOr hands a supervised error to the scope's handler, or logs it. A
// panic in the handler is logged; if the handler calls runtime.Goexit, the
// calling goroutine exits as asked and rest, what it would have done next,
// runs on a goroutine of the scheduler's.
func (sc *Scope) reportOr(info lazytask.Info, err error, rest func()) {
	normal := false
	defer func() {
		if normal {
			return
		}
		if p := recover(); p != nil {
			sc.s.logErrorThen(rest, "lazysched: error handler panicked", "scope", sc.name, "err", core.NewPanicError(p))
			return
		}
		if rest != nil {
			sc.s.goTracked(rest)
		}
		sc.s.logError("lazysched: error handler called runtime.Goexit", "scope", sc.name, "err", core.ErrCallbackGoexit)
	}()
	if sc.handler == nil {
		// The default handler: the logger may call runtime.Goexit too.
		sc.s.cfg.logger.Error("lazysched: task failed", "scope", sc.name, "task", info, "err", err)
	} else {
		sc.handler(info, err)
	}
	normal = true
}

// flushDeferred runs what failLocked decided under the lock: callbacks and
// hooks of the tasks it canceled, and handler calls of supervisors.
func (s *Scheduler) flushDeferred(then func()) {
	s.lock()
	ended, reports := s.deferred, s.reports
	s.deferred, s.reports = nil, nil
	s.unlock()
	s.finishOutsideThen(ended, func() { s.reportAll(s.spreadReports(reports), then) })
}

// spreadReports keeps the reports to sc's handler of the first report's
// scope sc for this goroutine and makes the others, grouped by scope and in
// order within each, on goroutines of the scheduler's, one per scope: the
// flush takes every report decided meanwhile, other supervisors' too, and
// a handler that blocks must hold up its own scope's reports alone, not an
// unrelated supervisor's.
func (s *Scheduler) spreadReports(reports []deferredReport) []deferredReport {
	if len(reports) < 2 {
		return reports
	}
	var order []*Scope
	by := make(map[*Scope][]deferredReport)
	for _, r := range reports {
		if _, seen := by[r.sc]; !seen {
			order = append(order, r.sc)
		}
		by[r.sc] = append(by[r.sc], r)
	}
	for _, sc := range order[1:] {
		group := by[sc]
		s.goTracked(func() { s.reportAll(group, nil) })
	}
	return by[order[0]]
}

// reportAll makes the deferred handler calls in order, then calls then (if
// not nil); one whose handler calls runtime.Goexit leaves the rest to
// another goroutine.
func (s *Scheduler) reportAll(reports []deferredReport, then func()) {
	for i, r := range reports {
		r.sc.reportOr(r.info, r.err, func() { s.reportAll(reports[i+1:], then) })
	}
	if then != nil {
		then()
	}
}

func joinErrs(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}

// infoOf returns the Info of a task through its typed handle.
func infoOf(c *core.Task) lazytask.Info {
	if h, ok := core.HandleOf(c).(lazytask.Handle); ok {
		return h.Info()
	}
	return lazytask.Info{}
}

func handleOf(c *core.Task) lazytask.Handle {
	h, _ := core.HandleOf(c).(lazytask.Handle)
	return h
}
