// Command quickstart shows lazysched's three moves in one screen: submit
// 1000 jobs under a cap of 4 without blocking; hold and await their
// handles; force-run one, promote one and cancel one while they wait.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) (err error) {
	// WithTimings: the last lines compare two jobs' start times.
	s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithTimings())
	if err != nil {
		return err
	}
	// Shutdown lets what is left finish (nothing, on the happy path) and
	// cancels any job still queued on an early return.
	defer func() { err = errors.Join(err, s.Shutdown(ctx)) }()

	// 1. Submit: returns a handle at once, however many jobs wait. The
	// first jobs hold the 4 slots until gate opens, so the others queue.
	gate := make(chan struct{})
	open := sync.OnceFunc(func() { close(gate) })
	defer open() // on an early return too, so that Shutdown does not wait forever
	square := func(i int) func(context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			select {
			case <-gate:
				return i * i, nil
			case <-ctx.Done():
				return 0, context.Cause(ctx)
			}
		}
	}
	jobs := make([]*lazytask.Task[int], 1000)
	for i := range jobs {
		jobs[i], err = scheduler.Submit(s, square(i), lazytask.WithName(fmt.Sprint("square-", i)))
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "submitted %d jobs: %d running, %d queued\n", len(jobs), s.Stats().Running, s.Stats().Queued)

	// 3. Force-run, promote and cancel jobs that are still queued.
	if err := s.Force(jobs[999]); err != nil { // runs now, over the cap
		return err
	}
	if err := s.Promote(jobs[500]); err != nil { // next in line for a slot
		return err
	}
	jobs[998].Cancel(errors.New("not needed")) // never runs
	fmt.Fprintf(out, "%s: %v (over the cap: %v), %s: %v, %s: %v\n",
		jobs[999].Name(), jobs[999].State(), jobs[999].Info().OverCap,
		jobs[500].Name(), jobs[500].State(), jobs[998].Name(), jobs[998].State())
	open()

	// 2. Await the handles: typed results, errors, states.
	sum := 0
	for _, h := range jobs {
		v, err := h.Await(ctx)
		if err != nil {
			fmt.Fprintf(out, "%s: %v: %v\n", h.Name(), h.State(), err)
			continue
		}
		sum += v
	}
	promoted, head := jobs[500].Timings().Started, jobs[4].Timings().Started
	fmt.Fprintf(out, "%s (promoted) started no later than %s (head of the queue): %v\n",
		jobs[500].Name(), jobs[4].Name(), !head.Before(promoted))
	st := s.Stats()
	fmt.Fprintf(out, "sum of squares: %d\n", sum)
	fmt.Fprintf(out, "succeeded %d, canceled %d, force-runs %d, promoted %d\n", st.Succeeded, st.Canceled, st.ForceRuns, st.Promoted)
	return nil
}
