package scheduler_test

import (
	"testing"

	"github.com/lazysched/lazysched/scheduler"
)

// The linger is bounded: an idle goroutine gives up after a few rounds.
func TestSpinRoundsAreBounded(t *testing.T) {
	if n := scheduler.SpinRounds(); n < 1 || n > 64 {
		t.Fatalf("SpinRounds() = %d; want within [1, 64]", n)
	}
}
