package errgroup_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/lazysched/lazysched/factory/errgroup"
)

// With x/sync a function's goroutine exits when the function returns,
// Wait or no Wait: a group abandoned after its functions have returned
// (an early return before Wait) leaves no goroutine behind.
func TestHostileNowaitAbandonedZeroGroupLeavesNoGoroutine(t *testing.T) {
	ran := make(chan struct{}, 3)
	func() {
		var g errgroup.Group
		for range 3 {
			g.Go(func() error { ran <- struct{}{}; return nil })
		}
		for range 3 {
			<-ran
		}
		// dropped without a Wait
	}()
	goleak.VerifyNone(t)
}
