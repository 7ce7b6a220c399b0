package lazysched_test

import (
	"context"
	"fmt"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// The three moves: submit without blocking under a cap, hold and await a
// typed handle per job, and force-run, promote or cancel a queued job.
func Example() {
	ctx := context.Background()
	s, _ := scheduler.New(scheduler.WithLimit(2))

	// Hold the two slots so that what follows stays queued.
	gate := make(chan struct{})
	for range 2 {
		scheduler.Go(s, func(ctx context.Context) error { <-gate; return nil })
	}

	// 1. Submit: returns at once, however many jobs wait.
	jobs := make([]*lazytask.Task[int], 5)
	for i := range jobs {
		jobs[i], _ = scheduler.Submit(s, func(ctx context.Context) (int, error) {
			return i * i, nil
		}, lazytask.WithName(fmt.Sprint("job", i)))
	}
	fmt.Println(jobs[4].Name(), jobs[4].State())

	// 3. Force-run one now, over the cap; promote one; cancel one.
	jobs[4].Start()
	s.Promote(jobs[3])
	jobs[2].Cancel(nil)
	v, _ := jobs[4].Await(ctx)
	fmt.Println("forced:", v)

	// 2. Await the handles.
	close(gate)
	for _, j := range jobs {
		v, err := j.Await(ctx)
		fmt.Println(j.Name(), j.State(), v, err)
	}
	st := s.Stats()
	fmt.Println("force-runs:", st.ForceRuns, "canceled:", st.Canceled)

	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	s.Shutdown(sctx)
	// Output:
	// job4 queued
	// forced: 16
	// job0 succeeded 0 <nil>
	// job1 succeeded 1 <nil>
	// job2 canceled 0 context canceled
	// job3 succeeded 9 <nil>
	// job4 succeeded 16 <nil>
	// force-runs: 1 canceled: 1
}
