package scheduler

import "runtime"

// AwaitReclaimWaiters blocks until n tasks back from a wait are waiting to
// take their slots back (tests order their steps on it).
func AwaitReclaimWaiters(s *Scheduler, n int) {
	for {
		s.lock()
		got := len(s.reclaims)
		s.unlock()
		if got >= n {
			return
		}
		runtime.Gosched()
	}
}

// ReclaimWaiters is how many tasks back from a wait are waiting to take
// their slots back now.
func ReclaimWaiters(s *Scheduler) int {
	s.lock()
	defer s.unlock()
	return len(s.reclaims)
}

// GoroutineWaiters is how many Shutdown calls wait for the scheduler's
// goroutines now.
func GoroutineWaiters(s *Scheduler) int { return int(s.wg.waiters.Load()) }

// GoroutinesCounted is how many goroutines Shutdown waits for now.
func GoroutinesCounted(s *Scheduler) int { return int(s.wg.n.Load()) }

// AwaitTimeouts waits until every armed scope timeout has fired and run its
// cancellation, or been stopped.
func AwaitTimeouts(s *Scheduler) { s.ttl.Wait(0) }

// SpinRounds is how many rounds an idle goroutine lingers (linger.go).
func SpinRounds() int { return spinRounds }

// Parked is how many goroutines are parked for work (linger.go).
func Parked(s *Scheduler) int {
	s.lock()
	defer s.unlock()
	return len(s.idle)
}

// Reaping says whether the reaper of parked goroutines is armed.
func Reaping(s *Scheduler) bool {
	s.lock()
	defer s.unlock()
	return s.reaping
}

// ReapPeriod is how often the reaper looks at the parked goroutines.
const ReapPeriod = reapPeriod

// AwaitWaiting blocks until a Wait (or Shutdown) waits on sc.
func AwaitWaiting(sc *Scope) {
	for !Waiting(sc) {
		runtime.Gosched()
	}
}

// Waiting reports whether a Wait (or Shutdown) waits on sc.
func Waiting(sc *Scope) bool {
	sc.s.lock()
	defer sc.s.unlock()
	return sc.idle != nil
}

// SetWakeDelay makes Release call f between letting the scheduler's lock
// go and waking the waiters of the task that ended, to widen that window;
// the returned function undoes it.
func SetWakeDelay(f func()) (undo func()) {
	wakeDelay = f
	return func() { wakeDelay = nil }
}

// DoneQueue tells how many tasks' done hooks went to the done queue's
// runner, and how many times a runner handed the queue over (donehooks.go).
func DoneQueue(s *Scheduler) (pushed, handed int) {
	s.lock()
	defer s.unlock()
	return s.done.pushed, s.done.handed
}

// Spawned is how many goroutines the scheduler has started to run tasks.
func Spawned(s *Scheduler) int {
	s.lock()
	defer s.unlock()
	return s.spawned
}
