package errgroup_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/scheduler"
)

// liarCtx is a Context that breaks the contract: its Done closes while its
// Err still says nil. Values come from the context it wraps.
type liarCtx struct {
	context.Context
	done chan struct{}
}

func (l *liarCtx) Done() <-chan struct{} { return l.done }
func (l *liarCtx) Err() error            { return nil }

// An Await cut short by its context, made with a group's context (errgroup.In),
// takes its lent slot back at once, over the cap if the slot is taken,
// as Await's doc promises: the task the lend let in may be waiting for the
// caller. With a context whose Err lies, the wait returned
// context.Canceled (core.DoneCause) but the reclaim read ctx.Err() to tell
// whether it was cut short, saw nil, and waited for the slot as long as it
// took: here the queued task that holds it waits for the caller, so the
// group never returned. Failed before the fix: g.Wait reached the test's
// bound.
func TestHostileHRAwaitWithALyingGroupContextTakesItsSlotBackOverTheCap(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	g, gctx := errgroup.In(bg, s)
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	defer open()
	waited := make(chan error, 1)
	g.Go(func() error {
		started := make(chan struct{})
		tk, err := scheduler.Go(s, func(context.Context) error { // queued: the group's function holds the slot
			close(started)
			<-release // waits for the caller
			return nil
		})
		if err != nil {
			return err
		}
		l := &liarCtx{Context: gctx, done: make(chan struct{})}
		go func() { <-started; close(l.done) }() // the lend let tk in; then the wait is cut short
		waited <- tk.Wait(l)
		open()
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	ctx := bounded(t)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-ctx.Done():
		open()
		<-done
		t.Fatal("an Await cut short by a lying context waited for its slot, held by a task that waited for it")
	}
	assert.ErrorIs(t, <-waited, context.Canceled)
}
