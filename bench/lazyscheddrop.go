package bench

import (
	"context"

	"github.com/lazysched/lazysched/scheduler"
)

// lazyDropRunner is lazysched used like pond's Go: Submit still returns a
// handle per task, but the submitter drops it and waits for the whole
// scheduler with Scheduler.Wait. It shows what keeping a million handles
// alive costs (their memory and the garbage collector's scans of it).
type lazyDropRunner struct{}

func (lazyDropRunner) name() string { return "lazysched-drop" }

func (lazyDropRunner) run(n, limit, subs int, task func()) {
	s, err := scheduler.New(scheduler.WithLimit(limit))
	must(err)
	fn := lazyFunc(task)
	split(n, subs, func(k int) {
		for range k {
			_, err := scheduler.Submit(s, fn)
			must(err)
		}
	})
	ctx := context.Background()
	must(s.Wait(ctx))
	must(s.Shutdown(ctx))
}

func (lazyDropRunner) backlog(n int, gate <-chan struct{}, task func()) backlog {
	return lazyRunner{}.backlog(n, gate, task)
}
