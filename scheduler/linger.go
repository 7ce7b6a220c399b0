package scheduler

// The goroutines that run tasks: each runs a task and what follows it,
// then lingers a moment for more before it exits.

import (
	"runtime"

	"github.com/lazysched/lazysched/internal/core"
)

// goTracked runs f on a new goroutine that Shutdown waits for.
func (s *Scheduler) goTracked(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// spawn runs c and what follows it on a new goroutine, or on the executor.
func (s *Scheduler) spawn(c *core.Task) {
	if s.cfg.exec != nil {
		s.cfg.exec(func() { s.work(c) })
		return
	}
	go s.work(c)
}

// work runs c, then whatever the scheduler hands this goroutine next. When
// nothing is left, one goroutine at a time lingers for a moment before it
// exits: a submitter slower than the tasks then hands its next task to that
// goroutine through the queue instead of starting a goroutine per task.
func (s *Scheduler) work(c *core.Task) {
	defer s.wg.Done()
	s.loop(c)
}

// loop is work's body: run c and what follows, then linger.
func (s *Scheduler) loop(c *core.Task) {
	for c != nil {
		for c != nil {
			c = core.Execute(c)
		}
		c = s.linger()
	}
}

// spinRounds bounds how long an idle goroutine lingers: each round yields
// the processor once, about 0.1-1 µs.
const spinRounds = 32

func (s *Scheduler) linger() *core.Task {
	s.lock()
	// Without a root cap a submit starts its task at once and hands
	// nothing to a lingering goroutine: lingering would only burn CPU.
	if s.spinning > 0 || s.root.closed || s.root.lim.Unlimited() {
		s.unlock()
		return nil
	}
	s.spinning++
	s.unlock()
	for range spinRounds {
		runtime.Gosched()
		if s.tryLock() {
			if s.queued > 0 {
				if c := s.admitOne(0); c != nil {
					s.spinning--
					s.admitAllLocked() // submits queued behind us while slots were free
					s.unlock()
					return c
				}
			}
			s.unlock()
		}
	}
	s.lock()
	s.spinning--
	c := s.admitOne(0)
	s.admitAllLocked()
	s.unlock()
	return c
}
