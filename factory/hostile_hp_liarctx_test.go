package factory_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/scheduler"
)

// hpLiar breaks the context contract: its Done closes while Err says nil.
type hpLiar struct {
	context.Context
	done chan struct{}
}

func (l *hpLiar) Done() <-chan struct{} { return l.done }

// Gather with a lying context that ends while its tasks run must not take
// the end of its context for a task's result: it must report an error and
// leave no task running: it cancels them and waits for them, as for any
// context that ends.
func TestHostileHPGatherLyingContextReportsAnError(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	liar := &hpLiar{Context: bg, done: make(chan struct{})}
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var running atomic.Int32
	fn := func(ctx context.Context) (int, error) {
		running.Add(1)
		defer running.Add(-1)
		started <- struct{}{}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-release:
			return 7, nil
		}
	}
	go func() {
		<-started
		<-started
		close(liar.done)
	}()
	type res struct {
		vs  []int
		err error
	}
	out := make(chan res, 1)
	go func() { vs, err := factory.Gather(liar, s, fn, fn); out <- res{vs, err} }()
	select {
	case r := <-out:
		require.Error(t, r.err, "Gather returned %v", r.vs)
		require.Zero(t, running.Load(), "Gather returned %v with tasks still running", r.err)
	case <-time.After(10 * time.Second):
		t.Fatal("Gather hung")
	}
}
