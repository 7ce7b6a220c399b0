package scheduler_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

// recoveringExec is a yielding executor whose runs, like a pond worker's,
// recover what panics out of them, and whose yield is the test's.
type recoveringExec struct {
	yield     func() bool
	recovered atomic.Int64
}

func (p *recoveringExec) exec(run func(yield func() bool)) {
	go func() {
		defer func() {
			if recover() != nil {
				p.recovered.Add(1)
			}
		}()
		run(p.yield)
	}()
}

// A yield that panics (a pool's own bookkeeping that breaks) must not lose
// the task the goroutine was about to go on with: that task is admitted,
// holds its slot and counts as Running, so losing it leaves it Running for
// ever, its Wait and the scheduler's Shutdown hanging, as WithExecutor
// promises never happens for a panic that an executor recovers
// (WithoutPanicRecovery's doc). Failed before the fix: b never ran.
func TestHostileYieldThatPanicsLosesNoTask(t *testing.T) {
	var panicked atomic.Bool
	p := &recoveringExec{yield: func() bool {
		if panicked.CompareAndSwap(false, true) {
			panic("yield broke")
		}
		return false
	}}
	s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithYieldingExecutor(p.exec))
	require.NoError(t, err)
	gate := make(chan struct{})
	a, err := scheduler.Go(s, func(context.Context) error { <-gate; return nil })
	require.NoError(t, err)
	b, err := scheduler.Go(s, func(context.Context) error { return nil }) // queued behind a: chained onto a's goroutine
	require.NoError(t, err)
	close(gate)
	require.NoError(t, a.Wait(bounded(t)))
	// Without the fix b stays Running for ever, and so would Shutdown,
	// even past its grace: the test ends here (goleak then reports the
	// scheduler's goroutines).
	require.NoError(t, b.Wait(bounded(t)), "the task chained after a yield that panicked never ran")
	assert.NoError(t, s.Shutdown(bounded(t)))
	assert.True(t, panicked.Load())
	assert.Equal(t, int64(1), p.recovered.Load(), "the yield's panic goes on to the executor")
}
