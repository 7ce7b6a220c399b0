package pondexec_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/pondexec"
	"github.com/lazysched/lazysched/scheduler"
)

// A nil pool is bad input and must be refused with
// scheduler.ErrInvalidOption. New(nil) panicked with a nil dereference;
// scheduler.New(WithPool(nil)) succeeded, its first Submit panicked inside
// the executor, under the scheduler's lock, and the scheduler's Shutdown
// then hung for ever.
func TestHostileNilPoolIsRefusedWithASentinel(t *testing.T) {
	s, err := pondexec.New(nil)
	assert.ErrorIs(t, err, scheduler.ErrInvalidOption, "New(nil)")
	assert.Nil(t, s, "New(nil)")

	s, err = scheduler.New(pondexec.WithPool(nil))
	require.ErrorIs(t, err, scheduler.ErrInvalidOption, "scheduler.New(WithPool(nil))")
	require.Nil(t, s, "scheduler.New(WithPool(nil))")
}

// scheduler.WithExecutor(nil) is refused alike: no executor can run a task.
func TestHostileNilExecutorIsRefused(t *testing.T) {
	s, err := scheduler.New(scheduler.WithExecutor(nil))
	require.ErrorIs(t, err, scheduler.ErrInvalidOption)
	if s != nil {
		_ = s.Shutdown(context.Background())
	}
}
