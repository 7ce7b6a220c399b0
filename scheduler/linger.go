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

// How long an idle goroutine lingers is a rent-or-buy choice: each round
// of lingering (one yield, one try of the lock) costs its time whether or
// not work comes, and what lingering saves, if work comes, is one new
// goroutine for it. Lingering for as long as a new goroutine costs, and
// no longer, never spends more than twice what the better of the two
// choices would have, whatever the submitter does (the ski-rental bound).
// So spinRounds is the cost of a goroutine's start and end over the cost
// of a round.
//
// On the 2-core machine of the bench (2026-12-03) a goroutine's start and
// end cost 0.27-0.78 µs and a round 0.07-0.2 µs: 4-10 rounds. With 8,
// empty hooks ran as fast as with the 32 used before (which were tuned to
// one benchmark), a submitter slower than its tasks (BenchmarkPaced)
// burned a fifth less CPU, and W1, W3 and W5 did not change; with none,
// empty hooks ran 1.3x slower. Measuring the two costs when the package
// loads was tried and dropped: at that moment a start costs a fraction of
// what it costs later, and the ratio came out at its floor every time.
// Both costs grow alike with the cores (a start and a yield both go
// through the run queues), so the ratio should hold on a larger machine;
// that is not measured yet.
const spinRounds = 8

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
