package stress

import (
	"os"
	"testing"
)

// TestSoakMillionPendingTasks queues a million tasks behind a blocked cap,
// reports the bytes each costs, drains them slowly and checks that nothing
// is left (goroutines, heap; goleak runs in TestMain). It is long: it runs
// only without -short and with SOAK=1.
//
//	SOAK=1 go test -tags lazysched_check -run TestSoak -v ./internal/stress/
func TestSoakMillionPendingTasks(t *testing.T) {
	if testing.Short() || os.Getenv("SOAK") != "1" {
		t.Skip("the soak runs with SOAK=1 and without -short")
	}
	rep := Soak(SoakConfig{Tasks: 1_000_000, Seed: 1})
	t.Logf("\n%s", rep)
	if rep.Violations > 0 {
		t.Errorf("%d violations in the soak:\n%s", rep.Violations, rep)
	}
}
