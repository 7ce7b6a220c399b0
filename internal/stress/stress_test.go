package stress

import (
	"flag"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lazysched/lazysched/internal/check"
)

var (
	seedFlag  = flag.Uint64("seed", 0, "replay the stress run from this seed (or set STRESS_SEED)")
	tasksFlag = flag.Int("tasks", 0, "tasks per stress run (default: a short run)")
)

// stressSeeds returns the seeds to run: the one given by -seed or
// STRESS_SEED, else a fixed set, so that `go test` is repeatable.
func stressSeeds(t *testing.T) []uint64 {
	if *seedFlag != 0 {
		return []uint64{*seedFlag}
	}
	if v := os.Getenv("STRESS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("STRESS_SEED=%q: %v", v, err)
		}
		return []uint64{s}
	}
	if !check.Enabled {
		// Without the invariant checks compiled in, one seed shows the
		// driver works; the full short run is `make test`'s, with the tag.
		return []uint64{1}
	}
	return []uint64{1, 1001, 2001, 3001}
}

// TestStressHoldsTheInvariants is the short run of the stress driver that
// `make test` runs (with -race and -tags lazysched_check): four seeds of
// 50,000 tasks in rounds of 5,000 (one seed without the tag). A failure names the seed of each failing round;
// replay one with
//
//	go test -race -tags lazysched_check -run TestStress ./internal/stress/ -seed S -tasks 5000
func TestStressHoldsTheInvariants(t *testing.T) {
	tasks := 50_000
	if *tasksFlag > 0 {
		tasks = *tasksFlag
	}
	if testing.Short() {
		tasks /= 3
	}
	for _, seed := range stressSeeds(t) {
		t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) {
			rep := Run(Config{
				Seed: seed, Tasks: tasks, RoundTasks: 5_000, Submitters: 8,
				Progress: os.Stderr, Verbose: testing.Verbose(),
			})
			t.Logf("\n%s", rep)
			if rep.Violations > 0 {
				t.Errorf("%d invariant violations (seed %d):\n%s", rep.Violations, seed, rep)
			}
			// A replayed round may be one that does little (a fail-fast
			// root that fails at once); a full run must do everything.
			if tasks >= 20_000 && (rep.Ran == 0 || rep.CanceledBefore == 0 || rep.ForceRuns == 0 || rep.Promotes == 0) {
				t.Errorf("the run exercised too little: ran %d, canceled before running %d, force-runs %d, promotes %d",
					rep.Ran, rep.CanceledBefore, rep.ForceRuns, rep.Promotes)
			}
			if tasks >= 20_000 {
				// The hostile user code ran at every edge (hostile.go).
				for _, c := range []struct {
					what string
					n    int64
				}{
					{"done callbacks that await", rep.CallbackAwaits},
					{"done callbacks that submit", rep.CallbackSubmits},
					{"done callbacks that cancel", rep.CallbackCancels},
					{"done callbacks that call runtime.Goexit", rep.CallbackGoexits},
					{"hooks that panic", rep.HookPanics},
					{"hooks that call runtime.Goexit", rep.HookGoexits},
					{"Submits cut short by a hook's Goexit", rep.SubmitGoexits},
					{"Awaits of other tasks from inside", rep.AwaitOthers},
					{"child Scope.Waits from inside", rep.ScopeWaits},
					{"scope bursts", rep.ScopeBursts},
					{"ended scopes checked released", rep.Releasing},
				} {
					assert.Positivef(t, c.n, "%s in a run of %d tasks", c.what, tasks)
				}
				if rep.Rounds >= 10 { // one round in two is calm
					assert.Positivef(t, rep.CalmRounds, "calm rounds in %d rounds", rep.Rounds)
				}
			}
		})
	}
}
