package errgroup_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/scheduler"
)

// x/sync's Go never fails: a function handed to Go runs. With In on a
// scheduler whose queue is bounded, a Go past the queue's room must wait for
// room, not fail the whole group with ErrQueueFull and cancel its context.
func TestHostileQueueInOnABoundedQueueRunsEveryFunction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
		require.NoError(t, err)
		defer s.Shutdown(context.Background())
		g, ctx := errgroup.In(bg, s)
		release := make(chan struct{})
		started := make(chan struct{})
		var ran atomic.Int32
		g.Go(func() error { close(started); <-release; ran.Add(1); return nil })
		<-started
		g.Go(func() error { ran.Add(1); return nil }) // queued: the queue is now full
		third := make(chan struct{})
		go func() {
			g.Go(func() error { ran.Add(1); return nil }) // x/sync: runs
			close(third)
		}()
		synctest.Wait() // the third Go has returned, or waits for room
		assert.NoError(t, ctx.Err(), "no function has failed: the group's context is live")
		close(release)
		<-third
		require.NoError(t, g.Wait(), "Wait: no function failed")
		assert.Equal(t, int32(3), ran.Load(), "every function ran")
	})
}

// The same from inside: at a cap of 1 the room comes only once the queued
// task runs in the slot of the one that waits for it, whether Go is called
// by the task that made the group or by one of the group's functions.
func TestHostileQueueInOnABoundedQueueAtCapOneFromInside(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	var ran atomic.Int32
	outer, err := scheduler.Go(s, func(tctx context.Context) error {
		g, _ := errgroup.In(tctx, s)
		for range 3 { // from the task: the 2nd fills the queue, the 3rd waits for room
			g.Go(func() error { ran.Add(1); return nil })
		}
		g.Go(func() error { // from a function: it holds the only slot
			for range 3 {
				g.Go(func() error { ran.Add(1); return nil })
			}
			return nil
		})
		return g.Wait()
	})
	require.NoError(t, err)
	require.NoError(t, outer.Wait(ctx), "outer: no hang, no ErrQueueFull")
	assert.Equal(t, int32(6), ran.Load(), "every function ran")
	require.NoError(t, s.Wait(ctx))
	st := s.Stats()
	assert.Equal(t, 0, st.InUse+st.OverCap+st.Running+st.Queued, "idle: %+v", st)
}

// TryGo never blocks, and a full queue is no failure of a function: it
// reports false, as at the limit, and the group goes on.
func TestHostileQueueInTryGoAtAFullQueue(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
	g, ctx := errgroup.In(bg, s)
	g.SetLimit(5)
	release := make(chan struct{})
	started := make(chan struct{})
	var ran atomic.Int32
	require.True(t, g.TryGo(func() error { close(started); <-release; ran.Add(1); return nil }))
	<-started
	require.True(t, g.TryGo(func() error { ran.Add(1); return nil }), "queued")
	assert.False(t, g.TryGo(func() error { ran.Add(1); return nil }), "the queue is full: not started")
	assert.NoError(t, ctx.Err(), "no function failed")
	close(release)
	require.NoError(t, g.Wait())
	assert.Equal(t, int32(2), ran.Load())
	g.SetLimit(1) // no token left behind by the refused TryGo
}

// A Go waiting for queue room ends when the group's scope is canceled:
// the refusal is the error of the function that could not run.
func TestHostileQueueGoWaitingForRoomEndsWhenTheScopeIsCanceled(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
	rel := make(chan struct{})
	defer close(rel)
	started := make(chan struct{})
	_, err := scheduler.Go(s, func(context.Context) error { close(started); <-rel; return nil })
	require.NoError(t, err)
	<-started
	_, err = scheduler.Go(s, func(context.Context) error { return nil }) // the queue is full
	require.NoError(t, err)
	p, err := s.Root().NewScope()
	require.NoError(t, err)
	g, _ := errgroup.In(bg, p)
	gone := make(chan struct{})
	go func() { defer close(gone); g.Go(func() error { return nil }) }()
	stop := errors.New("stop")
	p.Cancel(stop)
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("Go still waits for room after its scope was canceled")
	}
	assert.ErrorIs(t, g.Wait(), stop)
}
