package scheduler_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Several goroutines drive one scheduler at once with a random mix: tasks
// that succeed, fail, panic, Goexit, block, re-enter their own scope at its
// cap and await the child, or Wait on their own scope from inside; cancels,
// force-runs, promotes, lazy tasks started, enqueued, canceled or left;
// done callbacks that submit; resizes. Once idle every handed-over task has
// ended, each callback ran once, and the counters add up; after Shutdown
// nothing is Lazy or holding a slot.
func TestPeersConcurrentRandomMixAddsUp(t *testing.T) {
	for round := range 60 {
		hoMixRound(t, uint64(round))
	}
}

func hoMixRound(t *testing.T, seed uint64) {
	s := startScheduler(t, scheduler.WithLimit(3), scheduler.WithQueueLimit(150))
	ff, err := s.Root().NewScope(scheduler.FailFast(), scheduler.WithLimit(2))
	require.NoError(t, err)
	ffChild, err := ff.NewScope(scheduler.FailFast(), scheduler.WithLimit(1))
	require.NoError(t, err)
	sup, err := s.Root().NewScope(scheduler.WithLimit(1))
	require.NoError(t, err)
	scopes := []*scheduler.Scope{s.Root(), ff, ffChild, sup}
	release := make(chan struct{})

	var mu sync.Mutex
	var handles []*lazytask.Task[int]
	var lazies []*lazytask.Task[int]
	keep := func(h *lazytask.Task[int]) {
		mu.Lock()
		handles = append(handles, h)
		mu.Unlock()
	}
	pick := func(r *rand.Rand) *lazytask.Task[int] {
		mu.Lock()
		defer mu.Unlock()
		if len(handles) == 0 {
			return nil
		}
		return handles[r.IntN(len(handles))]
	}
	var cbWant, cbGot atomic.Int64
	cbDone := make(chan struct{}, 100000)

	var body func(sc *scheduler.Scope, kind int) func(ctx context.Context) (int, error)
	body = func(sc *scheduler.Scope, kind int) func(ctx context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			switch kind {
			case 0:
				return 1, nil
			case 1:
				return 0, errHoSentinel
			case 2:
				panic("boom")
			case 3:
				runtime.Goexit()
			case 4:
				select {
				case <-release:
				case <-ctx.Done():
					return 0, context.Cause(ctx)
				}
				return 2, nil
			case 5: // re-enter the own scope and await the child
				h, err := scheduler.Submit(sc, body(sc, 4))
				if err != nil {
					return 0, nil // refused (queue full, canceled): fine
				}
				keep(h)
				v, err := h.Await(ctx)
				return v, err
			case 6: // Wait on the own scope from inside
				_ = sc.Wait(ctx)
				return 3, nil
			}
			return 0, nil
		}
	}

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for range 120 {
				sc := scopes[r.IntN(len(scopes))]
				switch op := r.IntN(10); op {
				case 0, 1, 2, 3:
					h, err := scheduler.Submit(sc, body(sc, r.IntN(7)))
					if err == nil {
						keep(h)
					}
				case 4:
					if h := pick(r); h != nil {
						h.Cancel(nil)
					}
				case 5:
					if h := pick(r); h != nil {
						_ = s.Force(h)
					}
				case 6:
					if h := pick(r); h != nil {
						_ = s.Promote(h)
					}
				case 7:
					h := scheduler.NewTask(sc, body(sc, r.IntN(5)))
					switch r.IntN(4) {
					case 0:
						_ = h.Start()
					case 1:
						_ = sc.Enqueue(h)
					case 2:
						h.Cancel(nil)
					}
					mu.Lock()
					lazies = append(lazies, h)
					mu.Unlock()
				case 8:
					if h := pick(r); h != nil {
						cbWant.Add(1)
						target := scopes[r.IntN(len(scopes))]
						h.OnDone(func(int, error) {
							if c, err := scheduler.Submit(target, body(target, 0)); err == nil {
								keep(c)
							}
							cbGot.Add(1)
							cbDone <- struct{}{}
						})
					}
				case 9:
					_ = s.Resize(1 + r.IntN(4))
				}
			}
		})
	}
	wg.Wait()
	close(release)
	require.NoError(t, s.Resize(3))

	idle := make(chan struct{})
	go func() {
		defer close(idle)
		for range cbWant.Load() {
			<-cbDone
		}
		_ = s.Wait(bg)
	}()
	select {
	case <-idle:
	case <-time.After(30 * time.Second):
		st := s.Stats()
		t.Fatalf("seed %d: not idle after 30s: callbacks %d of %d, Stats %+v", seed, cbGot.Load(), cbWant.Load(), st)
	}
	mu.Lock()
	for i, h := range handles {
		assert.True(t, h.State().Terminal(), "seed %d: handle %d is %v once idle", seed, i, h.State())
	}
	mu.Unlock()
	st := s.Stats()
	statsAddUp(t, st, "idle")
	assert.Equal(t, 0, st.InUse, "InUse once idle")
	assert.Equal(t, 0, st.OverCap, "OverCap once idle")
	require.NoError(t, func() error {
		ctx, cancel := context.WithTimeout(bg, 20*time.Second)
		defer cancel()
		err := s.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return nil
	}())
	st = s.Stats()
	statsAddUp(t, st, "after shutdown")
	assert.Equal(t, 0, st.Lazy)
	assert.Equal(t, 0, st.InUse)
	mu.Lock()
	defer mu.Unlock()
	for i, h := range lazies {
		assert.True(t, h.State().Terminal(), "seed %d: lazy %d is %v after Shutdown", seed, i, h.State())
	}
}
