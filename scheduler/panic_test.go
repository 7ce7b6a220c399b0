package scheduler_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func TestPanickingTaskDoesNotLeakASlot(t *testing.T) {
	// I6: with cap 1, a leaked slot would stop every later task.
	s := startScheduler(t, scheduler.WithLimit(1))
	for i := range 5 {
		h, err := scheduler.Submit(s, func(context.Context) (int, error) { panic("task boom") })
		require.NoError(t, err)
		_, err = h.Await(bg)
		var pe *lazytask.PanicError
		if !errors.As(err, &pe) || pe.Value != "task boom" {
			t.Fatalf("Await of panicking task %d = %v; want a *PanicError with Value \"task boom\"", i, err)
		}
		assert.Equal(t, lazytask.Failed, h.State(), "State() of a panicking task")
	}
	h, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	v, err := h.Await(bg)
	if v != 1 || err != nil {
		t.Errorf("Await after 5 panics = %v, %v; want 1, nil", v, err)
	}
	require.NoError(t, s.Wait(bg))
	st := s.Stats()
	assert.Zero(t, st.InUse, "Stats().InUse")
	assert.Equal(t, uint64(5), st.Failed, "Stats().Failed")
}

func TestGoexitInAScheduledTaskFreesItsSlot(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	exiting, err := scheduler.Submit(s, func(context.Context) (int, error) {
		runtime.Goexit()
		return 0, nil
	})
	require.NoError(t, err)
	after := make([]*lazytask.Task[int], 3)
	for i := range after {
		after[i], _ = scheduler.Submit(s, func(context.Context) (int, error) { return i, nil })
	}
	g.open()
	if _, err := exiting.Await(bg); !errors.Is(err, lazytask.ErrGoexit) {
		t.Errorf("Await of a Goexit task = %v; want ErrGoexit", err)
	}
	for i, h := range after {
		v, err := h.Await(bg)
		if v != i || err != nil {
			t.Errorf("Await of task %d queued behind a Goexit = %v, %v; want %d, nil", i, v, err, i)
		}
	}
	require.NoError(t, s.Wait(bg))
	assert.Zero(t, s.Stats().InUse, "Stats().InUse")
}

func TestPanickingDoneCallbackIsReportedToTheLogger(t *testing.T) {
	var buf lockedBuffer
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	h, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	later := make(chan struct{})
	h.OnDone(func(int, error) { panic("callback boom") })
	h.OnDone(func(int, error) { close(later) })
	<-later // callbacks run in order: the panic was handled before this one ran
	assert.Contains(t, buf.String(), "callback boom", "logger output")
	// The scheduler goes on.
	h2, _ := scheduler.Submit(s, func(context.Context) (int, error) { return 2, nil })
	v, err := h2.Await(bg)
	assert.Equal(t, 2, v, "Await after a callback panic")
	assert.NoError(t, err)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
