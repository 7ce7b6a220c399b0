package bench

import "github.com/alitto/pond/v2"

// pondSubmitRunner submits to a pond v2 pool with Submit, keeps the handle
// of every task and waits on each: the peer closest to lazysched's normal
// path.
type pondSubmitRunner struct{}

func (pondSubmitRunner) name() string { return "pond-submit" }

func (pondSubmitRunner) run(n, limit, subs int, task func()) {
	p := pond.NewPool(limit)
	split(n, subs, func(k int) {
		hs := make([]pond.Task, k)
		for i := range hs {
			hs[i] = p.Submit(task)
		}
		for _, h := range hs {
			must(h.Wait())
		}
	})
	p.StopAndWait()
}

func (pondSubmitRunner) backlog(n int, gate <-chan struct{}, task func()) backlog {
	p := pond.NewPool(1)
	holdSlot(gate, func(h func()) { must(p.Go(h)) })
	return &pondSubmitBacklog{p: p, task: task, hs: make([]pond.Task, 0, n)}
}

type pondSubmitBacklog struct {
	p    pond.Pool
	task func()
	hs   []pond.Task
}

func (b *pondSubmitBacklog) add() { b.hs = append(b.hs, b.p.Submit(b.task)) }

func (b *pondSubmitBacklog) drain() {
	for _, h := range b.hs {
		must(h.Wait())
	}
	b.p.StopAndWait()
}
