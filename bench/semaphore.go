package bench

import (
	"context"
	"sync"

	"golang.org/x/sync/semaphore"
)

// semaphoreRunner takes a slot of an x/sync weighted semaphore before it
// starts each task's goroutine, so the submitter blocks while the cap is
// full.
type semaphoreRunner struct{}

func (semaphoreRunner) name() string { return "semaphore" }

func (semaphoreRunner) run(n, limit, subs int, task func()) {
	sem := semaphore.NewWeighted(int64(limit))
	ctx := context.Background()
	var wg sync.WaitGroup
	f := func() {
		task()
		sem.Release(1)
		wg.Done()
	}
	split(n, subs, func(k int) {
		wg.Add(k)
		for range k {
			must(sem.Acquire(ctx, 1))
			go f()
		}
	})
	wg.Wait()
}

func (semaphoreRunner) backlog(_ int, gate <-chan struct{}, task func()) backlog {
	sem := semaphore.NewWeighted(1)
	ctx := context.Background()
	var wg sync.WaitGroup
	f := func() {
		task()
		sem.Release(1)
		wg.Done()
	}
	submit := func(g func()) {
		must(sem.Acquire(ctx, 1))
		wg.Add(1)
		go func() {
			g()
			sem.Release(1)
			wg.Done()
		}()
	}
	holdSlot(gate, submit)
	return newSpawned(func() {
		must(sem.Acquire(ctx, 1))
		wg.Add(1)
		go f()
	}, wg.Wait)
}
