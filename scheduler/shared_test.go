package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// watched is a limiter.Shared around a real one that tells the test of
// each Acquire and each cancel, so that tests wait on events, not time.
type watched struct {
	limiter.Shared
	acquired chan limiter.Request
	canceled chan struct{}
}

func watch(l limiter.Shared) *watched {
	return &watched{Shared: l, acquired: make(chan limiter.Request, 100), canceled: make(chan struct{}, 100)}
}

func (w *watched) Acquire(req limiter.Request) func() {
	w.acquired <- req
	cancel := w.Shared.Acquire(req)
	return func() { cancel(); w.canceled <- struct{}{} }
}

// Two schedulers that share a Local limit of 3 never run more than 3 tasks
// together, though each has a cap of 8; every task runs; no permit is left.
func TestSharedLimitCapsTwoSchedulersTogether(t *testing.T) {
	shared, err := limiter.NewLocal(3)
	require.NoError(t, err)
	var running, peak, arrived atomic.Int64
	all3 := make(chan struct{})
	fn := func(context.Context) (int, error) {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		defer running.Add(-1)
		// The first three wait for each other: the limit must let three
		// run at once.
		switch a := arrived.Add(1); {
		case a < 3:
			<-all3
		case a == 3:
			close(all3)
		}
		return 1, nil
	}
	var hs []*lazytask.Task[int]
	var ss []*scheduler.Scheduler
	for range 2 {
		s := scSched(t, scheduler.WithLimit(8), scheduler.WithSharedLimit(shared))
		ss = append(ss, s)
		for range 300 {
			h, err := scheduler.Submit(s, fn)
			require.NoError(t, err)
			hs = append(hs, h)
		}
	}
	ctx := bounded(t)
	for _, h := range hs {
		v, err := h.Await(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, v)
	}
	// A handle is done before its task's permit is back (the permit is
	// given back once the scheduler's lock is let go, by the goroutine
	// that ran the task): Shutdown, which waits for those goroutines, is
	// what promises that every permit is back.
	for _, s := range ss {
		require.NoError(t, s.Shutdown(ctx))
	}
	assert.LessOrEqual(t, peak.Load(), int64(3), "peak running across both schedulers")
	assert.Equal(t, int64(0), shared.InUse(), "permits left held")
	assert.Equal(t, 0, shared.Waiting(), "requests left waiting")
}

// A scope with 1,000 queued tasks behind a full shared limit keeps one
// request in flight, not one per task; canceling its tasks cancels the
// request, and they never run.
func TestSharedLimitAsksOncePerScopeAndCancelsWhenNothingIsQueued(t *testing.T) {
	local, err := limiter.NewLocal(1)
	require.NoError(t, err)
	// The one permit is held outside the scheduler.
	got := make(chan limiter.Permit, 1)
	local.Acquire(limiter.Request{Weight: 1, Granted: func(p limiter.Permit, err error) { got <- p }})
	outside := <-got
	w := watch(local)
	s := scSched(t, scheduler.WithLimit(4))
	sc := scChild(t, s.Root(), scheduler.WithSharedLimit(w))
	var ran atomic.Int64
	var hs []*lazytask.Task[int]
	for range 1000 {
		h, err := scheduler.Submit(sc, func(context.Context) (int, error) { ran.Add(1); return 0, nil })
		require.NoError(t, err)
		hs = append(hs, h)
	}
	req := <-w.acquired
	assert.Equal(t, int64(1), req.Weight)
	assert.Equal(t, 1, local.Waiting(), "one request for the whole queue")
	require.Empty(t, w.acquired, "a second request while one is in flight")
	for _, h := range hs {
		h.Cancel(nil)
	}
	<-w.canceled
	assert.Equal(t, 0, local.Waiting(), "request left after the queue emptied")
	for _, h := range hs {
		assert.ErrorIs(t, h.Wait(bounded(t)), context.Canceled)
	}
	outside.Release()
	assert.Equal(t, int64(0), ran.Load(), "a canceled task ran")
	assert.Equal(t, int64(0), local.InUse())
}

// gaveUp is a shared limit whose store is down and that was told to fail.
type gaveUp struct{}

func (gaveUp) Acquire(req limiter.Request) func() {
	go req.Granted(nil, fmt.Errorf("%w: connection refused", limiter.ErrSharedUnavailable))
	return func() {}
}

// When the limit gives up, the tasks end Failed with its error and never
// run; nothing hangs.
func TestSharedLimitThatGivesUpFailsTheTasks(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(2), scheduler.WithSharedLimit(gaveUp{}))
	var ran atomic.Int64
	for range 10 {
		h, err := scheduler.Submit(s, func(context.Context) (int, error) { ran.Add(1); return 0, nil })
		require.NoError(t, err)
		err = h.Wait(bounded(t))
		require.ErrorIs(t, err, limiter.ErrSharedUnavailable)
		assert.Equal(t, lazytask.Failed, h.State())
	}
	assert.Zero(t, ran.Load())
	st := s.Stats()
	assert.Equal(t, uint64(10), st.Failed)
	statsAddUp(t, st, "after the failures")
}

// losing hands out permits at once and lets the test lose them.
type losing struct {
	mu       sync.Mutex
	lost     []func(error)
	released atomic.Int64
	granted  chan struct{}
}

type losingPermit struct{ l *losing }

func (p losingPermit) Release() { p.l.released.Add(1) }

func (l *losing) Acquire(req limiter.Request) func() {
	l.mu.Lock()
	l.lost = append(l.lost, req.Lost)
	l.mu.Unlock()
	req.Granted(losingPermit{l}, nil)
	l.granted <- struct{}{}
	return func() {}
}

// A permit lost while its task runs cancels the task's context with the
// limit's cause; the permit is still given back once.
func TestSharedPermitLostCancelsTheRunningTask(t *testing.T) {
	l := &losing{granted: make(chan struct{}, 10)}
	s := scSched(t, scheduler.WithLimit(2), scheduler.WithSharedLimit(l))
	started := make(chan struct{})
	h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		return 0, context.Cause(ctx)
	})
	require.NoError(t, err)
	<-l.granted
	<-started
	l.mu.Lock()
	lost := l.lost[0]
	l.mu.Unlock()
	lost(limiter.ErrLeaseLost)
	lost(limiter.ErrLeaseLost) // a second call does nothing
	err = h.Wait(bounded(t))
	require.ErrorIs(t, err, limiter.ErrLeaseLost)
	require.NoError(t, s.Shutdown(bounded(t)))
	assert.Equal(t, int64(1), l.released.Load(), "permit releases")
}

// A child scope's tasks need the permits of the shared limit above them; a
// force-run task does not wait for one.
func TestSharedLimitCoversTheSubtreeAndForceRunsSkipIt(t *testing.T) {
	local, err := limiter.NewLocal(1)
	require.NoError(t, err)
	s := scSched(t, scheduler.WithLimit(4))
	top := scChild(t, s.Root(), scheduler.WithSharedLimit(local))
	child := scChild(t, top)
	holder, gate := scHold(t, child)
	assert.Equal(t, int64(1), local.InUse(), "the holder took the permit")
	second, err := scheduler.Submit(child, func(context.Context) (int, error) { return 2, nil })
	require.NoError(t, err)
	assert.Equal(t, lazytask.Queued, second.State(), "waits for the permit, though local slots are free")
	forced, err := scheduler.Submit(child, func(context.Context) (int, error) { return 3, nil })
	require.NoError(t, err)
	require.NoError(t, forced.Start())
	v, err := forced.Await(bounded(t))
	require.NoError(t, err)
	assert.Equal(t, 3, v)
	assert.Equal(t, lazytask.Queued, second.State())
	gate.open()
	_, err = holder.Await(bounded(t))
	require.NoError(t, err)
	v, err = second.Await(bounded(t))
	require.NoError(t, err)
	assert.Equal(t, 2, v)
	require.NoError(t, s.Shutdown(bounded(t)))
	assert.Equal(t, int64(0), local.InUse())
}

func TestWithSharedLimitNilIsRefused(t *testing.T) {
	_, err := scheduler.New(scheduler.WithSharedLimit(nil))
	require.ErrorIs(t, err, scheduler.ErrInvalidOption)
	s := scSched(t)
	_, err = s.Root().NewScope(scheduler.WithSharedLimit(nil))
	require.True(t, errors.Is(err, scheduler.ErrInvalidOption))
}
