package scheduler_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func Example() {
	s, err := scheduler.New(scheduler.WithLimit(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Shutdown(context.Background())

	// Submit never blocks; it returns a typed handle at once.
	squares := make([]*lazytask.Task[int], 5)
	for i := range squares {
		squares[i], _ = scheduler.Submit(s, func(ctx context.Context) (int, error) {
			return i * i, nil
		})
	}
	for _, h := range squares {
		v, err := h.Await(context.Background())
		fmt.Println(v, err)
	}
	// Output:
	// 0 <nil>
	// 1 <nil>
	// 4 <nil>
	// 9 <nil>
	// 16 <nil>
}

// blocker submits a task that holds one slot until release is closed.
func blocker(s *scheduler.Scheduler) (release chan struct{}) {
	release = make(chan struct{})
	started := make(chan struct{})
	_, _ = scheduler.Go(s, func(ctx context.Context) error {
		close(started)
		<-release
		return nil
	})
	<-started
	return release
}

func ExampleScheduler_Force() {
	s, _ := scheduler.New(scheduler.WithLimit(1))
	defer s.Shutdown(context.Background())
	release := blocker(s) // the only slot is taken

	urgent, _ := scheduler.Submit(s, func(ctx context.Context) (string, error) {
		return "urgent job done", nil
	})
	fmt.Println(urgent.State())

	// Force runs it now, over the cap; the run is counted.
	if err := s.Force(urgent); err != nil {
		fmt.Println(err)
	}
	v, _ := urgent.Await(context.Background())
	fmt.Println(v, "over cap:", urgent.Info().OverCap, "force-runs:", s.Stats().ForceRuns)
	close(release)
	// Output:
	// queued
	// urgent job done over cap: true force-runs: 1
}

func ExampleScheduler_Promote() {
	s, _ := scheduler.New(scheduler.WithLimit(1))
	defer s.Shutdown(context.Background())
	release := blocker(s)

	var order []string
	job := func(name string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) {
			order = append(order, name) // cap 1: one at a time
			return name, nil
		}
	}
	_, _ = scheduler.Submit(s, job("report"), lazytask.WithPriority(5))
	_, _ = scheduler.Submit(s, job("backup"), lazytask.WithPriority(5))
	cleanup, _ := scheduler.Submit(s, job("cleanup"), lazytask.WithPriority(0))

	// Promote puts the task next in line, whatever its priority.
	_ = s.Promote(cleanup)
	close(release)
	_ = s.Wait(context.Background())
	fmt.Println(order)
	// Output:
	// [cleanup report backup]
}

func ExampleSubmit_cancel() {
	s, _ := scheduler.New(scheduler.WithLimit(1))
	defer s.Shutdown(context.Background())
	release := blocker(s)

	ran := false
	h, _ := scheduler.Submit(s, func(context.Context) (int, error) {
		ran = true
		return 1, nil
	})
	fmt.Println(h.Cancel(errors.New("not needed any more")))
	close(release)
	_ = s.Wait(context.Background())

	_, err := h.Await(context.Background())
	fmt.Println(h.State(), err, "ran:", ran, "canceled:", s.Stats().Canceled)
	// Output:
	// true
	// canceled not needed any more ran: false canceled: 1
}

func ExampleScheduler_Shutdown() {
	s, _ := scheduler.New(scheduler.WithLimit(1))
	started := make(chan struct{})
	running, _ := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done() // Shutdown cancels it once the grace period is over
		return 0, ctx.Err()
	})
	<-started
	queued, _ := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })

	// A grace period that is already over: cancel what remains at once.
	grace, cancel := context.WithCancel(context.Background())
	cancel()
	fmt.Println("shutdown:", s.Shutdown(grace))
	fmt.Println("running:", running.State(), "queued:", queued.State(), queued.Err())

	_, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
	fmt.Println("submit:", err)
	fmt.Println("again:", s.Shutdown(context.Background()))
	st := s.Stats()
	fmt.Println("in use:", st.InUse, "running:", st.Running)
	// Output:
	// shutdown: context canceled
	// running: canceled queued: canceled scheduler: closed
	// submit: scheduler: closed
	// again: scheduler: closed
	// in use: 0 running: 0
}
