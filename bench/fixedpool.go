package bench

import "sync"

// fixedQueue is the buffer of the fixed pool's channel.
const fixedQueue = 1024

// fixedRunner is the pool people write by hand: limit worker goroutines
// reading functions from a buffered channel. The send blocks the submitter
// once the buffer is full.
type fixedRunner struct{}

func (fixedRunner) name() string { return "fixedpool" }

// fixedPool is limit workers draining ch.
type fixedPool struct {
	ch chan func()
	wg sync.WaitGroup
}

func newFixedPool(limit int) *fixedPool {
	p := &fixedPool{ch: make(chan func(), fixedQueue)}
	for range limit {
		p.wg.Go(func() {
			for f := range p.ch {
				f()
			}
		})
	}
	return p
}

// close stops the workers once the channel is empty and waits for them.
func (p *fixedPool) close() {
	close(p.ch)
	p.wg.Wait()
}

func (fixedRunner) run(n, limit, subs int, task func()) {
	p := newFixedPool(limit)
	split(n, subs, func(k int) {
		for range k {
			p.ch <- task
		}
	})
	p.close()
}

// backlog: a full buffer blocks the send, so the pending tasks wait on
// goroutines of their own like the other blocking peers (the first
// fixedQueue of them would fit in the buffer; the difference is noise at a
// million).
func (fixedRunner) backlog(_ int, gate <-chan struct{}, task func()) backlog {
	p := newFixedPool(1)
	holdSlot(gate, func(h func()) { p.ch <- h })
	return newSpawned(func() { p.ch <- task }, p.close)
}
