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

// Creator names the goroutine that started the caller, however deep the
// caller's stack is, and the main test goroutine's creator is not itself.
func TestCreatorNamesTheStarter(t *testing.T) {
	me := goid.ID()
	got := make(chan uint64)
	go func() { got <- goid.Creator() }()
	if c := <-got; c != me {
		t.Fatalf("goid.Creator() in a goroutine I started = %d, want %d", c, me)
	}
	var deep func(int) uint64
	deep = func(n int) uint64 {
		if n == 0 {
			return goid.Creator()
		}
		return deep(n-1) + 0*uint64(n)
	}
	go func() { got <- deep(2000) }()
	if c := <-got; c != me {
		t.Fatalf("goid.Creator() 2,000 frames down = %d, want %d", c, me)
	}
	if c := goid.Creator(); c == me {
		t.Fatalf("goid.Creator() of the test's goroutine is its own id %d", me)
	}
}
