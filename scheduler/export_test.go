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

// AwaitTimeouts waits until every armed scope timeout has fired and run its
// cancellation, or been stopped.
func AwaitTimeouts(s *Scheduler) { s.ttl.Wait() }

// SpinRounds is how many rounds an idle goroutine lingers (linger.go).
func SpinRounds() int { return spinRounds }
