package scheduler_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Every way into a scheduler for a task whose carried context is canceled
// before New: Submit, SubmitWait on a full queue, NewTask and Enqueue of
// lazytask.New. Each answers the cause at once, takes no place in the
// bounded queue, fires no hook of the scope (the task is refused before
// OnCreate, as bad input is), keeps Stats' sum (Created = ... + Rejected:
// a refused Submit or NewTask counts as Created and Rejected, an Enqueue
// refused counts nothing, as its task was never taken), and its done
// callback, registered after New, runs once; Await returns the cause.
func TestHostileHRDeadCarriedContextOnEveryWayIn(t *testing.T) {
	var hooks atomic.Int64
	count := func(context.Context, *scheduler.Scope, lazytask.Handle) { hooks.Add(1) }
	s := newSched(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnCreate: count, OnQueue: count, OnDone: count,
		OnStart: func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) context.Context {
			hooks.Add(1)
			return ctx
		},
	}))
	release, _ := holdOnlySlot(t, s)
	defer release()
	filler, err := scheduler.Go(s, func(context.Context) error { return nil }) // fills the queue of 1
	require.NoError(t, err)
	base := hooks.Load()
	before := s.Stats()

	cause := errors.New("client gone")
	dead, cancel := context.WithCancelCause(bg)
	cancel(cause)
	fn := func(context.Context) (int, error) { return 1, nil }
	var callbacks atomic.Int64
	check := func(what string, h *lazytask.Task[int], rejected bool) {
		t.Helper()
		require.Equal(t, lazytask.Canceled, h.State(), what)
		h.OnDone(func(int, error) { callbacks.Add(1) })
		_, err := h.Await(bounded(t))
		assert.ErrorIs(t, err, cause, "%s: Await", what)
		assert.Equal(t, rejected, h.Info().Rejected, "%s: Rejected", what)
	}

	h, err := scheduler.Submit(s, fn, lazytask.WithContext(dead))
	assert.ErrorIs(t, err, cause, "Submit")
	check("Submit", h, true)

	h, err = scheduler.SubmitWait(bounded(t), s, fn, lazytask.WithContext(dead))
	assert.ErrorIs(t, err, cause, "SubmitWait on a full queue answers at once")
	check("SubmitWait", h, true)

	h = scheduler.NewTask(s, fn, lazytask.WithContext(dead))
	check("NewTask", h, true)

	assert.Equal(t, int64(3), callbacks.Load(), "each done callback ran once")
	assert.Equal(t, base, hooks.Load(), "no hook fired for a task refused at New")
	st := s.Stats()
	assert.Equal(t, before.Created+3, st.Created)
	assert.Equal(t, before.Rejected+3, st.Rejected)
	assert.Equal(t, before.Canceled, st.Canceled)
	assert.Equal(t, before.Queued, st.Queued, "the bounded queue is not consumed")
	assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected+uint64(st.Queued)+uint64(st.Running)+uint64(st.Lazy))
	release()
	require.NoError(t, filler.Wait(bounded(t)))

	// Enqueue, once the queue has room (on a full queue it answers
	// ErrQueueFull for a task that has ended: the refusals come first).
	before = s.Stats()
	h = lazytask.New(fn, lazytask.WithContext(dead))
	err = s.Root().Enqueue(h)
	assert.ErrorIs(t, err, scheduler.ErrNotQueued, "Enqueue")
	check("Enqueue", h, false)
	assert.Equal(t, int64(4), callbacks.Load())
	st = s.Stats()
	assert.Equal(t, before.Created, st.Created, "an Enqueue refused takes nothing")
	assert.Equal(t, before.Rejected, st.Rejected)
}
