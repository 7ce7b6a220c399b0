package scheduler_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Hooks that hand a task's handle to another goroutine, which acts on it
// while the scheduler is still handing the task over.

// handActor is that other goroutine: it takes each handle put in its slot
// and acts on it, after a spin that varies from handle to handle (spinStep
// and spinMod; 0 for none), so that the act lands at varied points of the
// handoff.
type handActor[T any] struct {
	slot    atomic.Pointer[lazytask.Task[T]]
	stopped atomic.Bool
	wg      sync.WaitGroup
}

func startHandActor[T any](spinStep, spinMod int, act func(*lazytask.Task[T])) *handActor[T] {
	a := new(handActor[T])
	a.wg.Go(func() {
		spin := 0
		for !a.stopped.Load() {
			h := a.slot.Swap(nil)
			if h == nil {
				runtime.Gosched()
				continue
			}
			if spinMod > 0 {
				spin = (spin + spinStep) % spinMod
				for i := 0; i < spin; i++ {
					_ = i * i
				}
			}
			act(h)
		}
	})
	return a
}

// give is the hook's side: it hands h over (if it is a Task[T]).
func (a *handActor[T]) give(h lazytask.Handle) {
	if ht, ok := h.(*lazytask.Task[T]); ok {
		a.slot.Store(ht)
	}
}

// waitTaken waits until the actor has taken the last handle given.
func (a *handActor[T]) waitTaken() {
	for a.slot.Load() != nil {
		runtime.Gosched()
	}
}

// stop stops the actor and waits for it.
func (a *handActor[T]) stop() {
	a.stopped.Store(true)
	a.wg.Wait()
}

// An OnQueue hook hands the handle to a goroutine that force-runs it in
// the root scope, while Submit's own handoff to a canceled child scope is
// refused. Either the force wins (Submit returns nil, the task runs once)
// or the refusal does (Submit's error, the task Rejected and never run);
// never both, and Created counts each task once.
func TestAForceFromAHooksGoroutineDuringARefusedSubmitEitherWinsOrLoses(t *testing.T) {
	var s *scheduler.Scheduler
	a := startHandActor(13, 151, func(h *lazytask.Task[int]) { _ = s.Force(h) })
	s = scSched(t, scheduler.WithLimit(4), scheduler.WithHooks(scheduler.Hooks{
		OnQueue: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { a.give(h) },
	}))
	child := scChild(t, s.Root())
	child.Cancel(errors.New("gone"))
	var ran atomic.Int64
	fn := func(context.Context) (int, error) { ran.Add(1); return 1, nil }
	const n = 20000
	type res struct {
		h   *lazytask.Task[int]
		err error
	}
	rs := make([]res, 0, n)
	for range n {
		h, err := scheduler.Submit(child, fn)
		rs = append(rs, res{h, err})
		a.waitTaken()
	}
	a.stop()
	both := 0
	for _, r := range rs {
		_, _ = r.h.Await(bounded(t))
		if r.err != nil && r.h.State() == lazytask.Succeeded {
			both++
		}
	}
	require.NoError(t, s.Shutdown(bounded(t)))
	st := s.Stats()
	t.Logf("stats %+v, ran %d", st, ran.Load())
	assert.Zero(t, both, "tasks Submit refused (error, Rejected) that ran all the same")
	assert.Equal(t, uint64(n), st.Created, "Created counts some tasks twice")
}

// An OnCreate hook of NewTask hands the handle to another goroutine, which
// cancels it (as a hook that registers the task with a request tracker,
// say, whose request then ends). The cancel races NewTask's bindLazy: the
// task must end once and never stay counted Lazy.
func TestAHookSharedNewTaskCanceledDuringItsBindEndsOnceAndIsNotLeftLazy(t *testing.T) {
	var created, done atomic.Int64
	stop := errors.New("tracker says stop")
	a := startHandActor(7, 97, func(h *lazytask.Task[struct{}]) { h.Cancel(stop) })
	s := scSched(t, scheduler.WithLimit(2), scheduler.WithHooks(scheduler.Hooks{
		OnCreate: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			created.Add(1)
			a.give(h)
		},
		OnDone: func(context.Context, *scheduler.Scope, lazytask.Handle) { done.Add(1) },
	}))
	fn := func(context.Context) (struct{}, error) { return struct{}{}, nil }
	const n = 20000
	hs := make([]*lazytask.Task[struct{}], 0, n)
	for range n {
		h := scheduler.NewTask(s, fn)
		hs = append(hs, h)
		a.waitTaken() // the canceler has it
	}
	a.stop()
	lazyLeft := 0
	for _, h := range hs {
		if h.State() == lazytask.Lazy {
			lazyLeft++
			_ = h.Cancel(stop)
		}
	}
	st := s.Stats()
	for _, h := range hs {
		_, _ = h.Await(bounded(t))
	}
	st2 := s.Stats()
	t.Logf("before: %+v", st)
	t.Logf("after all ended: %+v (still-Lazy handles canceled at the end: %d)", st2, lazyLeft)
	assert.Zero(t, st2.Lazy, "tasks that have ended still counted Lazy")
	require.Equal(t, st2.Created, st2.Succeeded+st2.Failed+st2.Canceled+st2.Rejected+uint64(st2.Queued+st2.Running+st2.Lazy))
	require.NoError(t, s.Shutdown(bounded(t)))
	assert.Equal(t, created.Load(), done.Load(), "OnCreate fired %d times, OnDone %d", created.Load(), done.Load())
	st3 := s.Stats()
	assert.Zero(t, st3.Lazy, "after Shutdown: %+v", st3)
}

// An OnQueue hook hands each handle to another goroutine, which acts on it
// at once (a Promote, a Force), while the cap is full so that Submit takes
// the inbox. The act can find the task Queued but still in the inbox (not
// linked): lockFor let it through while the task was still in transit
// (toQueued reads Lazy), and the submitter's InboxPushed made it Queued
// before Promote or force read the state again.
func actOnHandlesDuringTheirInboxPush(t *testing.T, act func(s *scheduler.Scheduler, h lazytask.Handle)) {
	var s *scheduler.Scheduler
	var armed atomic.Bool // not the task that holds the slot
	a := startHandActor(0, 0, func(h *lazytask.Task[int]) { act(s, h) })
	s = scSched(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnQueue: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			if armed.Load() {
				a.give(h)
			}
		},
	}))
	_, gate := scHold(t, s) // the cap is full: submits take the inbox
	armed.Store(true)
	fn := func(context.Context) (int, error) { return 1, nil }
	hs := make([]*lazytask.Task[int], 0, 20000)
	for range 20000 {
		h, err := scheduler.Submit(s, fn)
		require.NoError(t, err)
		hs = append(hs, h)
	}
	a.stop()
	gate.open()
	for _, h := range hs {
		_, err := h.Await(bounded(t))
		require.NoError(t, err)
	}
	require.NoError(t, s.Shutdown(bounded(t)))
}

func TestAPromoteOfAHookSharedHandleDuringItsInboxPushWaitsForThePush(t *testing.T) {
	actOnHandlesDuringTheirInboxPush(t, func(s *scheduler.Scheduler, h lazytask.Handle) { _ = s.Promote(h) })
}

func TestAForceOfAHookSharedHandleDuringItsInboxPushWaitsForThePush(t *testing.T) {
	actOnHandlesDuringTheirInboxPush(t, func(s *scheduler.Scheduler, h lazytask.Handle) { _ = s.Force(h) })
}
