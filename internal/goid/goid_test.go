package goid_test

import (
	"testing"

	"github.com/lazysched/lazysched/internal/goid"
)

// ID tells goroutines apart and is stable on one.
func TestIDTellsGoroutinesApart(t *testing.T) {
	me := goid.ID()
	if me == 0 || goid.ID() != me {
		t.Fatalf("ID() = %d, then %d", me, goid.ID())
	}
	other := make(chan uint64)
	go func() { other <- goid.ID() }()
	if o := <-other; o == 0 || o == me {
		t.Fatalf("another goroutine's ID() = %d, mine %d", o, me)
	}
}
