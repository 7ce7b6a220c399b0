package bench

import (
	"sync"
	"sync/atomic"
)

// floorRunner is not a peer: it is the least that "a handle per task, kept
// by the submitter" can cost on the machine at hand. It is the fixed pool
// plus, per task, one 64 B handle (the size of a lazysched handle)
// allocated by the submitter, kept until the end and marked done by the
// worker; there is no queue beyond the channel, no priority, no timing, no
// cancellation and no lock of its own. The channel carries the handle
// itself, so a task costs exactly one allocation, the handle (sending a
// method value would allocate a second object; TestFloorAllocatesOnce). Its W1 and W6 figures, next to
// lazysched's, separate what the handles' memory costs here (allocation,
// first touch of fresh pages, the garbage collector's scans) from what the
// scheduler costs.
type floorRunner struct{}

func (floorRunner) name() string { return "floor64" }

// floorHandle is 64 B, like lazytask.Task[struct{}] (TestFloorHandleIsAHandle).
type floorHandle struct {
	fn   func()
	done atomic.Bool
	_    [52]byte
}

func (h *floorHandle) run() {
	h.fn()
	h.done.Store(true)
}

// floorPool is the fixed pool with handles, not functions, on its channel.
type floorPool struct {
	ch chan *floorHandle
	wg sync.WaitGroup
}

func newFloorPool(limit int) *floorPool {
	p := &floorPool{ch: make(chan *floorHandle, fixedQueue)}
	for range limit {
		p.wg.Go(func() {
			for h := range p.ch {
				h.run()
			}
		})
	}
	return p
}

func (p *floorPool) close() {
	close(p.ch)
	p.wg.Wait()
}

func (floorRunner) run(n, limit, subs int, task func()) {
	p := newFloorPool(limit)
	hs := make([][]*floorHandle, max(subs, 1))
	i := atomic.Int64{}
	split(n, subs, func(k int) {
		mine := make([]*floorHandle, k)
		for j := range mine {
			h := &floorHandle{fn: task}
			mine[j] = h
			p.ch <- h
		}
		hs[i.Add(1)-1] = mine
	})
	p.close()
	for _, mine := range hs {
		for _, h := range mine {
			if !h.done.Load() {
				panic("floor64: a task did not run")
			}
		}
	}
}

// backlog: the pending handles wait in a slice (the cheapest queue there
// is) and are handed to the pool once the gate opens.
func (floorRunner) backlog(n int, gate <-chan struct{}, task func()) backlog {
	p := newFloorPool(1)
	holdSlot(gate, func(f func()) { p.ch <- &floorHandle{fn: f} })
	return &floorBacklog{p: p, task: task, hs: make([]*floorHandle, 0, n)}
}

type floorBacklog struct {
	p    *floorPool
	task func()
	hs   []*floorHandle
}

func (b *floorBacklog) add() { b.hs = append(b.hs, &floorHandle{fn: b.task}) }

func (b *floorBacklog) drain() {
	for _, h := range b.hs {
		b.p.ch <- h
	}
	b.p.close()
}
