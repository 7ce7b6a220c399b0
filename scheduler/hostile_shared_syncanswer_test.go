package scheduler_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// syncRefuser is a shared limit that holds its first request and, once
// told to, answers every request inside Acquire with an error: what
// redisfleet does once closed (ErrClosed), and any limit does for a
// weight it can never grant.
type syncRefuser struct {
	first    chan limiter.Request
	refusing atomic.Bool
	calls    atomic.Int64
	maxDepth atomic.Int64
}

func (f *syncRefuser) Acquire(req limiter.Request) func() {
	if !f.refusing.Load() {
		f.first <- req
		return func() {}
	}
	if f.calls.Add(1)%64 == 0 { // sampled: a stack walk costs its depth
		pcs := make([]uintptr, 1<<16)
		if n := int64(runtime.Callers(0, pcs)); n > f.maxDepth.Load() {
			f.maxDepth.Store(n)
		}
	}
	req.Granted(nil, errors.New("refused"))
	return func() {}
}

// Every queued task of a scope whose shared limit starts refusing inside
// Acquire ends Failed, each head asking in turn; the stack of the
// goroutine that makes those calls must not grow with the queue. Each
// answer made inside Acquire nested the next head's Acquire in it, nine
// frames a queued task: a queue of a million tasks behind a closed
// redisfleet.Limit overflowed the goroutine's stack (a fatal error, not
// a panic). With 3000 queued the deepest Acquire was 27000 frames down.
func TestSharedLimitAnsweringInsideAcquireDoesNotNestPerQueuedTask(t *testing.T) {
	f := &syncRefuser{first: make(chan limiter.Request, 1)}
	s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithSharedLimit(f))
	require.NoError(t, err)
	const n = 3000
	hs := make([]*lazytask.Task[int], 0, n)
	for range n {
		h, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
		require.NoError(t, err)
		hs = append(hs, h)
	}
	r := <-f.first
	f.refusing.Store(true)
	r.Granted(nil, errors.New("refused"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, h := range hs {
		_, err := h.Await(ctx)
		require.Error(t, err)
		require.Equal(t, lazytask.Failed, h.State())
	}
	require.NoError(t, ctx.Err())
	_ = s.Shutdown(ctx)
	assert.Less(t, f.maxDepth.Load(), int64(500), "frames under the deepest Acquire, with %d tasks queued", n)
}
