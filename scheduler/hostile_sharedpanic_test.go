package scheduler_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// panickyShared is a limiter.Shared whose Acquire panics: user code, as a
// hook or a callback is.
type panickyShared struct{}

func (panickyShared) Acquire(limiter.Request) func() { panic("a broken Shared.Acquire") }

// A panic in a Shared limit's Acquire escaped Submit and left the task it
// was asking for Queued for good: Shutdown never returned (I5, I6). Now
// the panic is the task's error, as a request the limit gave up on.
func TestSharedAcquireThatPanicsLosesNoTask(t *testing.T) {
	s, err := scheduler.New(scheduler.WithLogger(quietLogger), scheduler.WithSharedLimit(panickyShared{}))
	require.NoError(t, err)
	var h *lazytask.Task[int]
	assert.NotPanics(t, func() {
		h, _ = scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
	}, "Submit: the panic of the limit's Acquire")
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown hangs: the task whose permit request panicked is still queued")
	}
	if h != nil {
		select {
		case <-h.Done():
		default:
			t.Error("the task is not terminal after Shutdown")
		}
		_, err := h.Result()
		var pe *lazytask.PanicError
		require.True(t, errors.As(err, &pe), "the task's error carries the limit's panic: %v", err)
		assert.Equal(t, "a broken Shared.Acquire", pe.Value)
		assert.Equal(t, lazytask.Failed, h.State())
	}
}

// panickyRelease is a limiter.Shared of a Local limit whose permits'
// Release gives the slot back, then panics.
type panickyRelease struct{ l *limiter.Local }

type panickyPermit struct{ p limiter.Permit }

func (p panickyPermit) Release() { p.p.Release(); panic("a broken Permit.Release") }

func (s panickyRelease) Acquire(req limiter.Request) func() {
	granted := req.Granted
	req.Granted = func(p limiter.Permit, err error) {
		if p != nil {
			p = panickyPermit{p}
		}
		granted(p, err)
	}
	return s.l.Acquire(req)
}

// A permit's Release that panics is the limit's bug: it is logged, and
// it neither crashes the goroutine that gave the permit back (a worker,
// whose panic would end the process) nor keeps the next task from its
// permit.
func TestSharedPermitReleaseThatPanicsCrashesNothing(t *testing.T) {
	l, err := limiter.NewLocal(1)
	require.NoError(t, err)
	s, err := scheduler.New(scheduler.WithLogger(quietLogger), scheduler.WithSharedLimit(panickyRelease{l}))
	require.NoError(t, err)
	var hs []*lazytask.Task[int]
	for i := range 5 {
		h, err := scheduler.Submit(s, func(context.Context) (int, error) { return i, nil })
		require.NoError(t, err)
		hs = append(hs, h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, h := range hs {
		v, err := h.Await(ctx)
		require.NoError(t, err, "task %d", i)
		assert.Equal(t, i, v)
	}
	require.NoError(t, s.Shutdown(ctx))
}
