package errgroup_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/lazysched/lazysched/factory/errgroup"
)

type unwaitedKey struct{}

// A group made and dropped without a Wait (an early return before any Go,
// as with x/sync's WithContext) keeps nothing alive: with x/sync the
// group's context, a child of a context that is never canceled, is
// garbage once dropped, and so is what that context holds. A group of In
// must not be kept by the long-lived scope it watches.
func TestHostileUnwaitedInGroupIsNotKeptByTheScope(t *testing.T) {
	s := newScheduler(t)
	const n = 100
	var freed atomic.Int32
	for range n {
		p := new([1 << 10]byte)
		runtime.AddCleanup(p, func(*atomic.Int32) { freed.Add(1) }, &freed)
		ctx := context.WithValue(bg, unwaitedKey{}, p)
		g, gctx := errgroup.In(ctx, s)
		_, _ = g, gctx // dropped: an early return before any Go
	}
	deadline := time.Now().Add(5 * time.Second)
	for freed.Load() < n && time.Now().Before(deadline) {
		runtime.GC()
		runtime.Gosched()
	}
	assert.Equal(t, int32(n), freed.Load(), "values of dropped In groups' contexts freed")
}

// The same for a group that ran a round and was not waited for.
func TestHostileUnwaitedWithContextGroupIsFreed(t *testing.T) {
	const n = 100
	var freed atomic.Int32
	for range n {
		p := new([1 << 10]byte)
		runtime.AddCleanup(p, func(*atomic.Int32) { freed.Add(1) }, &freed)
		ctx := context.WithValue(bg, unwaitedKey{}, p)
		g, gctx := errgroup.WithContext(ctx)
		_, _ = g, gctx
	}
	deadline := time.Now().Add(5 * time.Second)
	for freed.Load() < n && time.Now().Before(deadline) {
		runtime.GC()
		runtime.Gosched()
	}
	assert.Equal(t, int32(n), freed.Load(), "values of dropped WithContext groups' contexts freed")
}

// The weak watch still cancels the context of a group that only its
// context keeps, once the scope is canceled, however many collections ran.
func TestHostileUnwaitedInContextAloneIsCanceledWithTheScope(t *testing.T) {
	s := newScheduler(t)
	sc, err := s.Root().NewScope()
	if err != nil {
		t.Fatal(err)
	}
	_, gctx := errgroup.In(bg, sc)
	for range 5 {
		runtime.GC()
	}
	stop := context.Canceled
	sc.Cancel(stop)
	select {
	case <-gctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("hang: the group's context was not canceled with the scope")
	}
	assert.ErrorIs(t, context.Cause(gctx), stop)
}
