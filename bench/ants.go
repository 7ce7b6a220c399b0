package bench

import (
	"sync"

	"github.com/panjf2000/ants/v2"
)

// antsRunner submits to an ants v2 pool of limit workers (default options:
// Submit blocks while every worker is busy) and waits with a WaitGroup, as
// ants has no wait-for-all of its own.
type antsRunner struct{}

func (antsRunner) name() string { return "ants" }

func (antsRunner) run(n, limit, subs int, task func()) {
	p, err := ants.NewPool(limit)
	must(err)
	var wg sync.WaitGroup
	f := func() {
		task()
		wg.Done()
	}
	split(n, subs, func(k int) {
		wg.Add(k)
		for range k {
			must(p.Submit(f))
		}
	})
	wg.Wait()
	p.Release()
}

func (antsRunner) backlog(_ int, gate <-chan struct{}, task func()) backlog {
	p, err := ants.NewPool(1)
	must(err)
	var wg sync.WaitGroup
	holdSlot(gate, func(h func()) {
		wg.Add(1)
		must(p.Submit(func() {
			h()
			wg.Done()
		}))
	})
	f := func() {
		task()
		wg.Done()
	}
	return newSpawned(func() {
		wg.Add(1)
		must(p.Submit(f))
	}, func() {
		wg.Wait()
		p.Release()
	})
}
