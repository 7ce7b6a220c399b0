package scheduler_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// I1, I2, I4 under races: one task, Lazy (unbound or bound with NewTask) or
// Queued behind a full cap, at cap 1 or 2, in the root or a capped child
// scope, gets Cancel, Start, Force (the scheduler's and the scope's),
// Promote, Enqueue (both), OnDone and Cancel again from nine goroutines at
// once, some twice. Whatever wins, the task ends once, in a state that
// agrees with whether its function ran (once at most), every callback
// runs once (the late one included), and the counters balance after
// Shutdown. 6,000 rounds, every one passing.
func TestHostileCancelRacesStartForcePromoteEnqueueOnOneTask(t *testing.T) {
	for iter := range 6000 {
		s, err := scheduler.New(scheduler.WithLimit(1 + iter%2))
		if err != nil {
			t.Fatal(err)
		}
		sc := s.Root()
		if iter%3 == 1 {
			sc, _ = s.Root().NewScope(scheduler.WithLimit(1))
		}
		// block the cap
		block := make(chan struct{})
		b1, _ := scheduler.Submit(s, func(ctx context.Context) (int, error) { <-block; return 0, nil })
		b2, _ := scheduler.Submit(s, func(ctx context.Context) (int, error) { <-block; return 0, nil })
		var runs, cbs atomic.Int32
		var k *lazytask.Task[int]
		fn := func(ctx context.Context) (int, error) { runs.Add(1); return 1, nil }
		switch iter % 3 {
		case 0:
			k = lazytask.New(fn)
		case 1:
			k = scheduler.NewTask(sc, fn)
		case 2:
			k, _ = scheduler.Submit(sc, fn)
		}
		k.OnDone(func(int, error) { cbs.Add(1) })
		var wg sync.WaitGroup
		start := make(chan struct{})
		ops := []func(){
			func() { k.Cancel(errors.New("x")) },
			func() { _ = k.Start() },
			func() { _ = s.Force(k) },
			func() { _ = sc.Force(k) },
			func() { _ = s.Promote(k) },
			func() { _ = sc.Enqueue(k) },
			func() { _ = s.Enqueue(k) },
			func() { k.OnDone(func(int, error) { cbs.Add(100) }) },
			func() { k.Cancel(nil) },
		}
		for i, op := range ops {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if (iter/3+i)%2 == 0 {
					op()
				}
				op()
			}()
		}
		close(start)
		wg.Wait()
		close(block)
		ctx, cancel := context.WithTimeout(context.Background(), 5e9)
		if err := k.Wait(ctx); err != nil && ctx.Err() != nil {
			t.Fatalf("iter %d: hang: state %v", iter, k.State())
		}
		_ = s.Shutdown(ctx)
		cancel()
		last := make(chan struct{})
		k.OnDone(func(int, error) { close(last) })
		<-last
		_ = b1
		_ = b2
		st := k.State()
		if !st.Terminal() {
			t.Fatalf("iter %d: state %v", iter, st)
		}
		n := cbs.Load()
		if n%100 != 1 || n/100 > 2 {
			t.Fatalf("iter %d: cbs %d", iter, n)
		}
		if r := runs.Load(); r > 1 || (r == 1) != (st == lazytask.Succeeded) {
			t.Fatalf("iter %d: runs %d state %v err %v", iter, r, st, k.Err())
		}
		stats := s.Stats()
		if stats.Running != 0 || stats.Queued != 0 || stats.InUse != 0 || stats.OverCap != 0 || stats.Lazy != 0 {
			t.Fatalf("iter %d: stats %+v", iter, stats)
		}
		if c := stats.Created; c != stats.Succeeded+stats.Failed+stats.Canceled+stats.Rejected {
			t.Fatalf("iter %d: stats %+v", iter, stats)
		}
	}
}
