package bench

import "golang.org/x/sync/errgroup"

// errgroupRunner uses errgroup.Group with SetLimit: Go blocks the submitter
// while the cap is full.
type errgroupRunner struct{}

func (errgroupRunner) name() string { return "errgroup" }

func (errgroupRunner) run(n, limit, subs int, task func()) {
	var g errgroup.Group
	g.SetLimit(limit)
	f := func() error {
		task()
		return nil
	}
	split(n, subs, func(k int) {
		for range k {
			g.Go(f)
		}
	})
	must(g.Wait())
}

func (errgroupRunner) backlog(_ int, gate <-chan struct{}, task func()) backlog {
	g := new(errgroup.Group)
	g.SetLimit(1)
	holdSlot(gate, func(h func()) {
		g.Go(func() error {
			h()
			return nil
		})
	})
	f := func() error {
		task()
		return nil
	}
	return newSpawned(func() { g.Go(f) }, func() { must(g.Wait()) })
}
