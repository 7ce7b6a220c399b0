package bench

import "github.com/sourcegraph/conc/pool"

// concRunner uses a conc pool with WithMaxGoroutines: Go blocks the
// submitter while the cap is full.
type concRunner struct{}

func (concRunner) name() string { return "conc" }

func (concRunner) run(n, limit, subs int, task func()) {
	p := pool.New().WithMaxGoroutines(limit)
	split(n, subs, func(k int) {
		for range k {
			p.Go(task)
		}
	})
	p.Wait()
}

func (concRunner) backlog(_ int, gate <-chan struct{}, task func()) backlog {
	p := pool.New().WithMaxGoroutines(1)
	holdSlot(gate, p.Go)
	return newSpawned(func() { p.Go(task) }, p.Wait)
}
