package goid_test

import (
	"fmt"

	"github.com/lazysched/lazysched/internal/goid"
)

// A goroutine recognises itself: the id it read before is its own now,
// and another goroutine's differs.
func ExampleID() {
	me := goid.ID()
	other := make(chan uint64)
	go func() { other <- goid.ID() }()
	fmt.Println(goid.ID() == me, <-other == me)
	// Output: true false
}
