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
	s.deferred = append(s.deferred, sc.cancelTreeLocked(err, true)...)
	p := sc.parent
	if p == nil {
		return
	}
	up := &ScopeError{Scope: sc.name, Err: err}
	if p.policy == failFast {
		p.failLocked(up)
		return
	}
	s.reports = append(s.reports, deferredReport{sc: p, info: lazytask.Info{Options: lazytask.Options{Name: sc.name}, State: lazytask.Failed, Err: up}, err: up})
}

// report hands a supervised error to the scope's handler, or logs it.
func (sc *Scope) report(info lazytask.Info, err error) {
	if sc.handler != nil {
		defer func() {
			if r := recover(); r != nil {
				sc.s.logger().Error("lazysched: error handler panicked", "scope", sc.name, "err", core.NewPanicError(r))
			}
		}()
		sc.handler(info, err)
		return
	}
	sc.s.logger().Error("lazysched: task failed", "scope", sc.name, "task", info.Name, "err", err)
}

// flushDeferred runs what failLocked decided under the lock: callbacks and
// hooks of the tasks it canceled, and handler calls of supervisors.
func (s *Scheduler) flushDeferred() {
	s.lock()
	ended, reports := s.deferred, s.reports
	s.deferred, s.reports = nil, nil
	s.unlock()
	s.finishOutside(ended)
	for _, r := range reports {
		r.sc.report(r.info, r.err)
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
