package scheduler_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

func TestYieldingExecutorNilIsRefused(t *testing.T) {
	_, err := scheduler.New(scheduler.WithYieldingExecutor(nil))
	require.ErrorIs(t, err, scheduler.ErrInvalidOption)
}

// yieldPool is an executor whose runs count as its own while they last,
// and whose yield says what the test wants.
type yieldPool struct {
	runs    atomic.Int64 // runs handed to the executor
	yielded atomic.Int64 // yields that reported true
	yield   atomic.Bool
}

func (p *yieldPool) exec(run func(yield func() bool)) {
	p.runs.Add(1)
	go run(func() bool {
		if p.yield.Load() {
			p.yielded.Add(1)
			return true
		}
		return false
	})
}

// A worker that yields hands the task it was to run next back to the
// executor, as a new run: every task still runs once, in order at cap 1,
// and the cap holds; a worker that does not yield goes on with the next
// task itself.
func TestYieldingExecutorHandsTheNextTaskBack(t *testing.T) {
	for _, yield := range []bool{false, true} {
		t.Run(map[bool]string{false: "keeps", true: "yields"}[yield], func(t *testing.T) {
			p := &yieldPool{}
			p.yield.Store(yield)
			s := newSched(t, scheduler.WithLimit(1), scheduler.WithYieldingExecutor(p.exec))
			gate := make(chan struct{})
			var mu sync.Mutex
			var order []int
			var now, peak atomic.Int64
			const n = 20
			for i := range n {
				_, err := scheduler.Go(s, func(context.Context) error {
					if i == 0 {
						<-gate // the others queue behind it
					}
					peak.Store(max(peak.Load(), now.Add(1)))
					defer now.Add(-1)
					mu.Lock()
					order = append(order, i)
					mu.Unlock()
					return nil
				})
				require.NoError(t, err)
			}
			close(gate)
			require.NoError(t, s.Wait(bounded(t)))
			want := make([]int, n)
			for i := range want {
				want[i] = i
			}
			assert.Equal(t, want, order, "every task once, in FIFO order")
			assert.Equal(t, int64(1), peak.Load(), "at most one task at once")
			st := s.Stats()
			assert.Equal(t, uint64(n), st.Succeeded)
			if yield {
				assert.Equal(t, int64(n), p.runs.Load(), "one run per task: each worker yielded its next task")
				assert.Equal(t, int64(n-1), p.yielded.Load(), "a yield asked before each chained task")
			} else {
				assert.Less(t, p.runs.Load(), int64(n), "a worker that keeps going runs the queued tasks itself")
				assert.Zero(t, p.yielded.Load())
			}
		})
	}
}

// An executor that runs every run with a nil yield (a goroutine of its own,
// as pondexec does for a stopped or full pool) gets the plain executor's
// behaviour: every task runs once, Wait and Shutdown return, and a submit
// after Shutdown is refused.
func TestYieldingExecutorRunNilNeverYields(t *testing.T) {
	var runs atomic.Int64
	s := newSched(t, scheduler.WithLimit(2), scheduler.WithYieldingExecutor(func(run func(func() bool)) {
		runs.Add(1)
		go run(nil)
	}))
	gate := make(chan struct{})
	var ran atomic.Int64
	for range 50 {
		_, err := scheduler.Go(s, func(context.Context) error {
			<-gate
			ran.Add(1)
			return nil
		})
		require.NoError(t, err)
	}
	close(gate)
	require.NoError(t, s.Wait(bounded(t)))
	require.NoError(t, s.Shutdown(bounded(t)))
	assert.Equal(t, int64(50), ran.Load())
	assert.LessOrEqual(t, runs.Load(), int64(50))
	_, err := scheduler.Go(s, func(context.Context) error { return nil })
	assert.True(t, errors.Is(err, scheduler.ErrClosed), "submit after Shutdown: %v", err)
}
