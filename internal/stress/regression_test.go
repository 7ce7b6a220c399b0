package stress

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Regression tests of library bugs that this suite found and that have been
// fixed: each failed before its fix.

// A queued task heavier than the cap after a Resize down must not keep
// Shutdown(context.Background()) waiting for ever. Found by
// FuzzSchedulerOps (cap 2, a task of weight 2 queued, Resize(1), Shutdown)
// when Resize left such tasks queued; Resize now fails them with
// ErrWeightTooLarge.
func TestShutdownDoesNotHangOnATaskHeavierThanTheCapAfterResize(t *testing.T) {
	s := bugSched(t, scheduler.WithLimit(2))
	gate := make(chan struct{})
	holder, _ := scheduler.Submit(s, func(context.Context) (int, error) { <-gate; return 0, nil })
	var runs atomic.Int32
	heavy, err := scheduler.Submit(s, func(context.Context) (int, error) { runs.Add(1); return 2, nil }, lazytask.WithWeight(2))
	if err != nil || heavy.State() != lazytask.Queued {
		t.Fatalf("Submit(weight 2) behind a holder = %v, %v; want nil, queued", err, heavy.State())
	}
	if err := s.Resize(1); err != nil {
		t.Fatalf("Resize(1) = %v", err)
	}
	close(gate)
	_, _ = holder.Await(context.Background())

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	timer := time.NewTimer(bugDeadline)
	defer timer.Stop()
	select {
	case err := <-done:
		if st := heavy.State(); !st.Terminal() {
			t.Errorf("after Shutdown = %v the heavy task is %v; want it ended", err, st)
		}
	case <-timer.C:
		t.Errorf("Shutdown(Background) with a queued task heavier than the cap (after Resize(1)) has not returned after %v; stats %+v", bugDeadline, s.Stats())
		_ = s.Resize(2) // let it through, so that the test ends
		<-done
	}
}

// lazytask.Task.Start: "For a task waiting in a scheduler's queue, Start is
// a force-run through that scheduler ... Start returns ErrStarted if the
// task is already running or has ended." When the task is admitted (or
// canceled) between Start's read of its state (Queued) and the scheduler's
// lock, Start returns the scheduler's ErrNotQueued ("task is running")
// instead of ErrStarted. The stress driver saw it a few times per million
// tasks (fixed since: Start retries when Force finds the state changed);
// this loop races Start with the admission that a finishing holder
// triggers.
func TestStartRacingAdmissionReturnsErrStartedNotErrNotQueued(t *testing.T) {
	s := bugSched(t, scheduler.WithLimit(1))
	defer func() { _ = s.Shutdown(context.Background()) }()
	bad := 0
	for tries := 0; tries < 2000 && bad == 0; tries++ {
		gate := make(chan struct{})
		holder, _ := scheduler.Submit(s, func(context.Context) (int, error) { <-gate; return 0, nil })
		h, _ := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
		started := make(chan error, 1)
		go func() { started <- h.Start() }()
		close(gate) // the holder ends and its goroutine admits h
		if err := <-started; err != nil && !errors.Is(err, lazytask.ErrStarted) {
			bad++
			t.Errorf("Start() of a queued task racing its admission = %v; want nil or ErrStarted", err)
		}
		_, _ = holder.Await(context.Background())
		_, _ = h.Await(context.Background())
	}
}

// A data race, reported by the race detector (run this test with -race):
// core.Cancel and core.Start read a Lazy task's owner (c.owner, a plain
// field) without the scheduler's lock, while core.Enqueue and
// core.AdmitLazy (a force-run of a Lazy task) write it under that lock. A
// Cancel of a bound Lazy task (NewTask) racing its Enqueue or Force is
// enough; so is one of an unbound task racing its Enqueue. (Fixed since:
// the owner is an atomic.Pointer.)
func TestCancelRacingTheHandoffOfALazyTaskIsNotADataRace(t *testing.T) {
	s := bugSched(t, scheduler.WithLimit(1))
	defer func() { _ = s.Shutdown(context.Background()) }()
	for i := range 200 {
		h := scheduler.NewTask(s, func(context.Context) (int, error) { return 1, nil })
		start := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			<-start
			h.Cancel(nil)
		}()
		close(start)
		if i%2 == 0 {
			_ = s.Force(h)
		} else {
			_ = s.Enqueue(h)
		}
		<-done
		_, _ = h.Await(context.Background())
	}
}

// SubmitWait: "With an unbounded queue it is Submit." With an ended
// context it is not: it checks the context first and returns its cause
// with the task Canceled, where Submit would queue and run the task. (With
// a bounded queue "a done context wins" is deliberate.) Fixed since.
func TestSubmitWaitWithAnEndedContextOnAnUnboundedQueueIsSubmit(t *testing.T) {
	s := bugSched(t)
	defer func() { _ = s.Shutdown(context.Background()) }()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h, err := scheduler.SubmitWait(ctx, s, func(context.Context) (int, error) { return 1, nil })
	if err != nil {
		t.Errorf("SubmitWait(ended ctx) on an unbounded queue = %v (task %v); want nil, as Submit", err, h.State())
	}
}
