package lazytask_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lazysched/lazysched/lazytask"
)

func TestStartCancelAndAwaitRacesEndInExactlyOneState(t *testing.T) {
	// I1 and I4: Start, Cancel, Await and OnDone race on many tasks. Every
	// task ends in exactly one terminal state; one that ends Canceled never
	// ran (its function returns nil, so a run would end Succeeded); every
	// callback runs once. A callback registered before the end runs on the
	// goroutine that ends the task, after the end is visible: Await may
	// return before it ran, so the test waits for the n calls (ran).
	const n = 2000
	var runs [n]atomic.Int32
	var cbs [n]atomic.Int32
	ran := make(chan struct{}, 2*n)
	tasks := make([]*lazytask.Task[int], n)
	for i := range tasks {
		tasks[i] = lazytask.New(func(ctx context.Context) (int, error) {
			runs[i].Add(1)
			return i, nil
		})
	}
	var wg sync.WaitGroup
	var cancelOK, startOK [n]atomic.Bool
	for i, tk := range tasks {
		wg.Go(func() { startOK[i].Store(tk.Start() == nil) })
		wg.Go(func() { cancelOK[i].Store(tk.Cancel(nil)) })
		wg.Go(func() { tk.OnDone(func(int, error) { cbs[i].Add(1); ran <- struct{}{} }) })
		wg.Go(func() { _, _ = tk.Await(bg) })
	}
	wg.Wait()
	timeout := time.After(time.Minute) // a bound on a hang, not a synchronisation
	for range n {
		select {
		case <-ran:
		case <-timeout:
			t.Fatalf("fewer than %d done callbacks ran in a minute (I2)", n)
		}
	}
	for i, tk := range tasks {
		st := tk.State()
		switch st {
		case lazytask.Succeeded:
			if got := runs[i].Load(); got != 1 {
				t.Fatalf("task %d Succeeded with %d runs; want 1", i, got)
			}
			if !startOK[i].Load() {
				t.Fatalf("task %d Succeeded but Start() failed", i)
			}
			if v, err := tk.Result(); v != i || err != nil {
				t.Fatalf("task %d Result() = %v, %v; want %d, nil", i, v, err, i)
			}
		case lazytask.Canceled:
			if got := runs[i].Load(); got != 0 {
				t.Fatalf("task %d Canceled but ran %d times; want 0 (I4)", i, got)
			}
			if !cancelOK[i].Load() {
				t.Fatalf("task %d Canceled but Cancel() = false", i)
			}
			if startOK[i].Load() {
				t.Fatalf("task %d Canceled but Start() = nil", i)
			}
		default:
			t.Fatalf("task %d State() = %v after Await; want succeeded or canceled", i, st)
		}
		if got := cbs[i].Load(); got != 1 {
			t.Fatalf("task %d callback ran %d times; want 1 (I2)", i, got)
		}
	}
}
