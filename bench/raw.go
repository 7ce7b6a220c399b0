package bench

import "sync"

// rawRunner starts a goroutine per task and waits with a WaitGroup: the
// baseline, with no cap at all (limit is ignored), so it has no backlog.
type rawRunner struct{}

func (rawRunner) name() string { return "raw" }

func (rawRunner) run(n, _, subs int, task func()) {
	var wg sync.WaitGroup
	f := func() {
		task()
		wg.Done()
	}
	split(n, subs, func(k int) {
		wg.Add(k)
		for range k {
			go f()
		}
	})
	wg.Wait()
}

func (rawRunner) backlog(int, <-chan struct{}, func()) backlog { return nil }
