package glue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lazysched/lazysched/factory/internal/glue"
	"github.com/lazysched/lazysched/scheduler"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRecvPrefersAValueOverADoneContext(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v, err := glue.Recv(ctx, ch)
	assert.NoError(t, err, "Recv(done ctx, ready channel)")
	assert.Equal(t, 7, v, "Recv's value")
}

func TestRecvReturnsTheCauseWhenCtxEnds(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stop")
	cancel(stop)
	_, err := glue.Recv(ctx, make(chan int))
	assert.Same(t, stop, err, "Recv(canceled ctx)")
}

// Inside a task of a scheduler with a cap of 1, Recv and Block lend the
// slot: the task they wait for can run.
func TestRecvAndBlockLendTheSlotOfTheCallingTask(t *testing.T) {
	s, err := scheduler.New(scheduler.WithLimit(1))
	require.NoError(t, err, "scheduler.New")
	defer func() {
		// Bounded: past the grace period a deadlocked task is canceled.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	}()
	outer, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		ch := make(chan int, 1)
		if _, err := scheduler.Go(s, func(context.Context) error { ch <- 1; return nil }); err != nil {
			return 0, err
		}
		v, err := glue.Recv(ctx, ch)
		if err != nil {
			return 0, err
		}
		done := make(chan struct{})
		if _, err := scheduler.Go(s, func(context.Context) error { close(done); return nil }); err != nil {
			return 0, err
		}
		glue.Block(ctx, func() { <-done })
		return v + 1, nil
	})
	require.NoError(t, err, "Submit")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := outer.Await(ctx)
	require.NoError(t, err, "outer.Await")
	assert.Equal(t, 2, v, "outer's value")
}

func TestScopeOfASpawner(t *testing.T) {
	s, err := scheduler.New()
	require.NoError(t, err, "scheduler.New")
	defer s.Shutdown(context.Background())
	sc, err := s.Root().NewScope()
	require.NoError(t, err, "NewScope")
	assert.Same(t, s.Root(), glue.Scope(s), "Scope(scheduler)")
	assert.Same(t, sc, glue.Scope(sc), "Scope(scope)")
	assert.Nil(t, glue.Scope(nil), "Scope(nil)")
	var nilSched *scheduler.Scheduler
	assert.Nil(t, glue.Scope(nilSched), "Scope((*Scheduler)(nil))")
}
