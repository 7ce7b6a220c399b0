package scheduler_test

import (
	"context"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A test drives a task's timeout with a mock clock: the timeout passes
// when the test moves the clock, and not before.
func ExampleClockOf() {
	mock := clock.NewMock()
	// The timer type is inferred: ClockOf(mock) is ClockOf[*clock.Timer](mock).
	s, err := scheduler.New(scheduler.WithClock(scheduler.ClockOf(mock)))
	if err != nil {
		panic(err)
	}
	defer s.Shutdown(context.Background())

	started := make(chan struct{})
	task, _ := scheduler.Go(s, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}, lazytask.WithTimeout(5*time.Second))
	<-started
	mock.Add(5 * time.Second)
	fmt.Println(task.Wait(context.Background()))
	fmt.Println("ran for", task.Timings().RunTime(), "of the mock")
	// Output:
	// context deadline exceeded
	// ran for 5s of the mock
}

// A scope's timeout follows the scheduler's clock: its queued tasks end
// Canceled when the mock passes it.
func ExampleWithClock() {
	mock := clock.NewMock()
	s, _ := scheduler.New(scheduler.WithLimit(1), scheduler.WithClock(scheduler.ClockOf[*clock.Timer](mock)))
	defer s.Shutdown(context.Background())

	release := make(chan struct{})
	started := make(chan struct{})
	busy, _ := scheduler.Go(s, func(context.Context) error { close(started); <-release; return nil })
	<-started
	sc, _ := s.Root().NewScope(scheduler.WithTimeout(time.Minute))
	queued, _ := scheduler.Go(sc, func(context.Context) error { return nil })

	mock.Add(59 * time.Second)
	fmt.Println(queued.State())
	mock.Add(time.Second)
	fmt.Println(queued.Wait(context.Background()), queued.State())
	close(release)
	_ = busy.Wait(context.Background())
	// Output:
	// queued
	// context deadline exceeded canceled
}
