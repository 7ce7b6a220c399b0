package bench

import "github.com/alitto/pond/v2"

// pondGoRunner submits to a pond v2 pool with Go: no handle, an unbounded
// queue, the submitter never blocks.
type pondGoRunner struct{}

func (pondGoRunner) name() string { return "pond-go" }

func (pondGoRunner) run(n, limit, subs int, task func()) {
	p := pond.NewPool(limit)
	split(n, subs, func(k int) {
		for range k {
			must(p.Go(task))
		}
	})
	p.StopAndWait()
}

func (pondGoRunner) backlog(_ int, gate <-chan struct{}, task func()) backlog {
	p := pond.NewPool(1)
	holdSlot(gate, func(h func()) { must(p.Go(h)) })
	return &pondGoBacklog{p: p, task: task}
}

type pondGoBacklog struct {
	p    pond.Pool
	task func()
}

func (b *pondGoBacklog) add()   { must(b.p.Go(b.task)) }
func (b *pondGoBacklog) drain() { b.p.StopAndWait() }
