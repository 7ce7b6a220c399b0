package scheduler_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Zero and nil handles given to a scheduler are refused with
// ErrForeignHandle (its doc), by Enqueue, Force and Promote alike, and leave
// the scheduler's counters untouched; a zero Task that is canceled ends, so
// its awaiters wake.
func TestPeersZeroAndNilHandlesAreForeign(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	sc, err := s.Root().NewScope()
	require.NoError(t, err)
	var nilTask *lazytask.Task[int]
	handles := map[string]func() lazytask.Handle{
		"zero Task":      func() lazytask.Handle { return new(lazytask.Task[int]) },
		"nil *Task":      func() lazytask.Handle { return nilTask },
		"nil Handle":     func() lazytask.Handle { return nil },
		"zero Task[str]": func() lazytask.Handle { return new(lazytask.Task[string]) },
	}
	for name, mk := range handles {
		for _, sp := range []interface {
			Enqueue(lazytask.Handle) error
			Force(lazytask.Handle) error
		}{s, sc} {
			assert.ErrorIs(t, sp.Enqueue(mk()), scheduler.ErrForeignHandle, "Enqueue(%s)", name)
			assert.ErrorIs(t, sp.Force(mk()), scheduler.ErrForeignHandle, "Force(%s)", name)
		}
		assert.ErrorIs(t, s.Promote(mk()), scheduler.ErrForeignHandle, "Promote(%s)", name)
	}
	st := s.Stats()
	assert.Equal(t, uint64(0), st.Created, "Created after refused handles")
	statsAddUp(t, st, "zero handles")

	var z lazytask.Task[int]
	assert.Equal(t, lazytask.Lazy, z.State())
	awaited := make(chan error, 1)
	go func() { _, err := z.Await(bg); awaited <- err }()
	require.True(t, z.Cancel(nil))
	hoGuard(t, z.Done(), "zero Task canceled")
	assert.ErrorIs(t, <-awaited, context.Canceled, "Await of a canceled zero Task")
}
