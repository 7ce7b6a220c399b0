package scheduler

// Starts in a burst: tasks admitted faster than goroutines begin.
//
// A task admitted as it is submitted (no cap in the way, nothing queued)
// gets a goroutine of its own at once. In a burst (an errgroup with no
// limit, 1,000 Go calls), the submitter started one goroutine per task, and
// each paid its start and the read of its id (s.count: a stack trace under
// the runtime's print lock, 2-3 µs here), serialized behind the submitter:
// errgroup's zero Group took 3.8-5.8 ms per 1,000 Go calls against x/sync's
// 0.5 ms, half of it in that read.
//
// So while a goroutine the scheduler started has yet to begin (s.starting),
// a submit does not start another: it puts its task, admitted and counted
// in s.wg, on s.startQ. The tasks there are taken, in order, by the
// goroutines that end a task (linger looks there first) and by the next
// goroutine to begin; each goroutine that begins starts one more while
// tasks are left there (begin), so that one is always on its way. That
// chain is what keeps "no cap" meaning what it says: a task on startQ
// never waits for a task to end, only for a goroutine to begin, however
// many of the tasks before it block.
//
// Executors start their goroutines themselves: their tasks are never put
// on startQ.

import "github.com/lazysched/lazysched/internal/core"

// deferStartLocked puts c, admitted and counted in s.wg, on s.startQ if a
// goroutine s started has yet to begin; it says whether it did. Under s.mu.
func (s *Scheduler) deferStartLocked(c *core.Task) bool {
	if s.starting == 0 || s.cfg.executor() {
		return false
	}
	if s.startHead > 0 && len(s.startQ) == cap(s.startQ) {
		// Full, with taken slots at the front (a queue that never empties):
		// move the rest down rather than grow over them.
		n := copy(s.startQ, s.startQ[s.startHead:])
		clear(s.startQ[n:])
		s.startQ, s.startHead = s.startQ[:n], 0
	}
	s.startQ = append(s.startQ, c)
	return true
}

// maxKeptStartQ is the most slots startQ keeps once empty: a burst larger
// than that leaves no array of its size behind.
const maxKeptStartQ = 1024

// spawnLocked counts a goroutine about to be started for c (nil: for the
// head of s.startQ), which the caller then starts with s.spawn once s.mu
// is let go, or at once. Under s.mu.
func (s *Scheduler) spawnLocked() {
	s.spawned++
	if !s.cfg.executor() {
		s.starting++
	}
}

// popStartLocked takes the head of s.startQ, or nil. The task's count in
// s.wg is its goroutine's: the caller, which has one already, lets it go.
// Under s.mu.
func (s *Scheduler) popStartLocked() *core.Task {
	if s.startHead == len(s.startQ) {
		return nil
	}
	c := s.startQ[s.startHead]
	s.startQ[s.startHead] = nil
	s.startHead++
	if s.startHead == len(s.startQ) {
		s.startQ, s.startHead = s.startQ[:0], 0
		if cap(s.startQ) > maxKeptStartQ {
			s.startQ = nil
		}
	}
	return c
}

// begin is the first step of a goroutine that s started (not an
// executor's) to run c, or the head of startQ if c is nil: it is no
// longer on its way, and it starts the next one if tasks wait on startQ.
// It returns the task to run; nil: there is none (another goroutine took
// it), and the goroutine exits.
func (s *Scheduler) begin(c *core.Task) *core.Task {
	s.lock()
	s.starting--
	if c == nil {
		if c = s.popStartLocked(); c != nil {
			s.wg.Done() // this goroutine has a count of its own
		}
	}
	next := s.starting == 0 && s.startHead < len(s.startQ)
	if next {
		s.spawnLocked()
		s.wg.Add(1)
	}
	s.unlock()
	if next {
		go s.work(nil, nil)
	}
	return c
}
