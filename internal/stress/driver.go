package stress

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// Config sets up a stress run. The zero value of each field takes the
// default given in its comment.
type Config struct {
	// Seed is the seed of the first round; round i uses Seed+i.
	Seed uint64
	// Tasks is the number of tasks to make over the whole run (default
	// 100,000). A round that shuts down in the middle makes fewer than
	// RoundTasks, so the last round may be short.
	Tasks int
	// RoundTasks is the number of tasks per scheduler (default 20,000).
	RoundTasks int
	// Submitters is the number of submitting goroutines (default 8).
	Submitters int
	// Strict counts the symptoms of known library bugs as violations.
	Strict bool
	// RoundTimeout is the watchdog of a round: past it the run prints
	// every goroutine's stack and exits with status 3 (default 3 minutes).
	RoundTimeout time.Duration
	// DrainTimeout bounds the wait for an idle scheduler in the rounds
	// that drain instead of shutting down in the middle (default 20 s).
	DrainTimeout time.Duration
	// LeakTimeout bounds the wait, after a round, for the goroutine count
	// to come back to what it was before the round (default 10 seconds).
	LeakTimeout time.Duration
	// Progress, if not nil, gets a line per round with violations and one
	// per million tasks; with Verbose, also a line as each round starts,
	// so that a crash (a failed invariant check panics) shows its seed.
	Progress io.Writer
	Verbose  bool
}

func (c *Config) defaults() {
	if c.Tasks <= 0 {
		c.Tasks = 100_000
	}
	if c.RoundTasks <= 0 {
		c.RoundTasks = 20_000
	}
	if c.RoundTasks < 16 {
		c.RoundTasks = 16
	}
	if c.Submitters <= 0 {
		c.Submitters = 8
	}
	if c.RoundTimeout <= 0 {
		c.RoundTimeout = 3 * time.Minute
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 20 * time.Second
	}
	if c.LeakTimeout <= 0 {
		c.LeakTimeout = 10 * time.Second
	}
}

// Report is the outcome of a run.
type Report struct {
	Seed       uint64
	RoundTasks int
	Rounds     int
	Tasks      int // tasks made
	Elapsed    time.Duration

	// What became of the tasks.
	Ran            int // their function ran once
	CanceledBefore int // canceled while Lazy or Queued: never ran
	FailedBefore   int // queued, then failed: a Resize made its weight too large
	Refused        int // refused at creation (closed, canceled, too heavy)
	Succeeded      int
	Failed         int
	Canceled       int

	// Operations that took effect.
	ForceRuns, Promotes, Cancels, ShortAwaits int64
	NewScopes, ScopeCancels, ScopeShutdowns   int64
	Resizes, MidShutdowns, DrainRounds        int64
	OverCapRuns, MaxOverCap                   int64
	GoroutinesBefore, GoroutinesEnd           int

	// Hostile user code (hostile.go). CalmRounds had no task that only a
	// cancel ends, so that a done callback's Await had to return.
	CalmRounds                                      int64
	HostileCallbacks, CallbackAwaits, CallbackCuts  int64 // cuts: Awaits a short context ended
	CallbackSubmits, CallbackCancels                int64
	CallbackGoexits, HookPanics, HookGoexits        int64
	SubmitGoexits, SubmitGoexitsCanceled            int64 // Submits cut short by a hook's Goexit; those ended Canceled
	GoexitsAvoided                                  int64 // on a driver goroutine: a panic or nothing instead
	AwaitOthers, ScopeWaits, ScopeBursts, Releasing int64 // releasing: ended scopes checked gone (I12)

	// Violations is the number of broken invariants; ByInvariant splits
	// it, Samples has the first messages, FailedSeeds the seeds of the
	// rounds that had any.
	Violations  int64
	ByInvariant map[string]int
	Samples     []string
	FailedSeeds []uint64
	// Known counts the symptoms of known bugs that were tolerated.
	Known map[string]int
}

// TasksPerSecond is the run's throughput.
func (r *Report) TasksPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Tasks) / r.Elapsed.Seconds()
}

// String formats the report, one figure a line.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, %d rounds of up to %d tasks\n", r.Seed, r.Rounds, r.RoundTasks)
	fmt.Fprintf(&b, "tasks: %d in %v: %.0f tasks/s\n", r.Tasks, r.Elapsed.Round(time.Millisecond), r.TasksPerSecond())
	fmt.Fprintf(&b, "  ended succeeded %d, failed %d, canceled %d\n", r.Succeeded, r.Failed, r.Canceled)
	fmt.Fprintf(&b, "  ran once %d, canceled before running %d, failed before running (too heavy after a Resize) %d, refused at creation %d\n",
		r.Ran, r.CanceledBefore, r.FailedBefore, r.Refused)
	fmt.Fprintf(&b, "ops: %d force-runs, %d promotes, %d cancels, %d short awaits, %d resizes\n",
		r.ForceRuns, r.Promotes, r.Cancels, r.ShortAwaits, r.Resizes)
	fmt.Fprintf(&b, "scopes: %d made, %d canceled, %d shut down; %d shutdowns mid-round, %d drained rounds\n",
		r.NewScopes, r.ScopeCancels, r.ScopeShutdowns, r.MidShutdowns, r.DrainRounds)
	fmt.Fprintf(&b, "over the cap: %d runs, at most %d at once\n", r.OverCapRuns, r.MaxOverCap)
	fmt.Fprintf(&b, "hostile callbacks: %d (%d awaits, %d of them cut short, %d submits, %d cancels, %d Goexits); %d calm rounds\n",
		r.HostileCallbacks, r.CallbackAwaits, r.CallbackCuts, r.CallbackSubmits, r.CallbackCancels, r.CallbackGoexits, r.CalmRounds)
	fmt.Fprintf(&b, "hostile hooks: %d panics, %d Goexits (%d cut a Submit or NewTask short, %d of those ended Canceled); %d Goexits avoided on driver goroutines\n",
		r.HookPanics, r.HookGoexits, r.SubmitGoexits, r.SubmitGoexitsCanceled, r.GoexitsAvoided)
	fmt.Fprintf(&b, "waits from inside: %d Awaits of older tasks, %d child Scope.Waits; %d scope bursts; %d ended scopes checked released\n",
		r.AwaitOthers, r.ScopeWaits, r.ScopeBursts, r.Releasing)
	fmt.Fprintf(&b, "goroutines: %d before, %d at the end\n", r.GoroutinesBefore, r.GoroutinesEnd)
	fmt.Fprintf(&b, "violations: %d\n", r.Violations)
	for _, k := range slices.Sorted(maps.Keys(r.ByInvariant)) {
		fmt.Fprintf(&b, "  %s: %d\n", k, r.ByInvariant[k])
	}
	for _, s := range r.Samples {
		fmt.Fprintf(&b, "  - %s\n", s)
	}
	if len(r.FailedSeeds) > 0 {
		fmt.Fprintf(&b, "failing rounds: replay one with -seed S -tasks %d, S in %v\n", r.RoundTasks, r.FailedSeeds)
	}
	if len(r.Known) > 0 {
		fmt.Fprintf(&b, "known bugs tolerated (-strict counts them):\n")
		for _, k := range slices.Sorted(maps.Keys(r.Known)) {
			fmt.Fprintf(&b, "  %s: %d\n", k, r.Known[k])
		}
	}
	return b.String()
}

// Run runs the stress driver and reports what it found. It returns when
// every round is done; a round that hangs past cfg.RoundTimeout ends the
// process (status 3) after printing every goroutine's stack and the seed.
func Run(cfg Config) *Report {
	cfg.defaults()
	rep := &Report{Seed: cfg.Seed, RoundTasks: cfg.RoundTasks, GoroutinesBefore: runtime.NumGoroutine()}
	all := &tally{strict: cfg.Strict}
	start := time.Now()
	nextProgress := 1_000_000
	for i := 0; rep.Tasks < cfg.Tasks; i++ {
		seed := cfg.Seed + uint64(i)
		n := min(cfg.RoundTasks, cfg.Tasks-rep.Tasks)
		if cfg.Progress != nil && cfg.Verbose {
			fmt.Fprintf(cfg.Progress, "stress: round %d: -seed %d -tasks %d\n", i, seed, n)
		}
		r := runRound(&cfg, seed, n)
		rep.Rounds++
		rep.add(r)
		if r.v.count() > 0 {
			rep.FailedSeeds = append(rep.FailedSeeds, seed)
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "stress: round seed %d: %d violations (replay: -seed %d -tasks %d)\n", seed, r.v.count(), seed, n)
			}
		}
		all.merge(r.v, fmt.Sprintf("[seed %d] ", seed))
		if cfg.Progress != nil && rep.Tasks >= nextProgress {
			fmt.Fprintf(cfg.Progress, "stress: %d tasks, %v, %d violations\n", rep.Tasks, time.Since(start).Round(time.Second), all.count())
			nextProgress += 1_000_000
		}
	}
	rep.Elapsed = time.Since(start)
	rep.GoroutinesEnd = runtime.NumGoroutine()
	rep.Violations = all.count()
	rep.ByInvariant, rep.Samples, rep.Known = all.by, all.samples, all.known
	return rep
}

func (rep *Report) add(r *round) {
	c := r.counts
	rep.Tasks += r.used()
	rep.Ran += c.ran
	rep.CanceledBefore += c.canceledBefore
	rep.FailedBefore += c.failedUnrun
	rep.Refused += c.refused
	rep.Succeeded += c.states[3]
	rep.Failed += c.states[4]
	rep.Canceled += c.states[5]
	rep.ForceRuns += r.forceOK.Load()
	rep.Promotes += r.promoteOK.Load()
	rep.Cancels += r.cancelOK.Load()
	rep.ShortAwaits += r.shortAwaits.Load()
	rep.NewScopes += r.newScopes.Load()
	rep.ScopeCancels += r.scopeCancels.Load()
	rep.ScopeShutdowns += r.scopeShutdowns.Load()
	rep.Resizes += r.resizes.Load()
	rep.MidShutdowns += r.midShutdowns.Load()
	if r.drain {
		rep.DrainRounds++
	}
	x := &r.hx
	if r.calm {
		rep.CalmRounds++
	}
	rep.HostileCallbacks += x.callbacks.Load()
	rep.CallbackAwaits += x.cbAwaits.Load()
	rep.CallbackCuts += x.cbAwaitsShort.Load()
	rep.CallbackSubmits += x.cbSubmits.Load()
	rep.CallbackCancels += x.cbCancels.Load()
	rep.CallbackGoexits += x.cbGoexits.Load()
	rep.HookPanics += x.hookPanics.Load()
	rep.HookGoexits += x.hookGoexits.Load()
	rep.SubmitGoexits += x.submitGoexits.Load()
	rep.SubmitGoexitsCanceled += x.submitGoexitsCanceled.Load()
	rep.GoexitsAvoided += x.goexitsAvoided.Load()
	rep.AwaitOthers += x.awaitOthers.Load()
	rep.ScopeWaits += x.scopeWaits.Load()
	rep.ScopeBursts += x.scopeBursts.Load()
	rep.Releasing += x.releaseChecks.Load()
	rep.OverCapRuns += r.overCapRuns.Load()
	rep.MaxOverCap = max(rep.MaxOverCap, r.maxOverCap.Load())
}

// runRound runs one scheduler's life and accounts for it.
func runRound(cfg *Config, seed uint64, n int) *round {
	before := runtime.NumGoroutine()
	defer crashNote(seed, n)
	r := newRound(cfg, seed, n)
	defer r.drv.enter()()
	wd := time.AfterFunc(cfg.RoundTimeout, func() { hung(seed, n, cfg.RoundTimeout) })
	r.start()
	r.finish()
	wd.Stop()
	r.counts = r.verify()
	if got := settleGoroutines(before, cfg.LeakTimeout); got > before {
		r.v.add("I7", "%d goroutines %v after Shutdown; %d before the round:\n%s", got, cfg.LeakTimeout, before, goroutineDump(4096))
	}
	return r
}

// settleGoroutines yields until at most want goroutines exist or limit has
// passed, and returns the last count. It polls: goroutines that a
// scheduler has let go (timer and context callbacks) take a moment to exit.
func settleGoroutines(want int, limit time.Duration) int {
	deadline := time.Now().Add(limit)
	n := runtime.NumGoroutine()
	for n > want && time.Now().Before(deadline) {
		runtime.Gosched()
		n = runtime.NumGoroutine()
	}
	return n
}

func goroutineDump(limit int) string {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	if b.Len() > limit {
		return b.String()[:limit] + "\n..."
	}
	return b.String()
}

// crashNote, deferred on the driver's goroutines, prints the round's seed
// when a panic (such as a failed invariant check in the library) is about
// to end the process, and lets the panic go on.
func crashNote(seed uint64, n int) {
	if v := recover(); v != nil {
		fmt.Fprintf(os.Stderr, "stress: panic in the round with seed %d; replay with -seed %d -tasks %d (STRESS_SEED=%d for the tests)\n", seed, seed, n, seed)
		panic(v)
	}
}

// hung is the watchdog of a round: it runs on its own goroutine when a
// round has not finished in time, and ends the process.
func hung(seed uint64, n int, after time.Duration) {
	fmt.Fprintf(os.Stderr, "stress: round with seed %d did not finish in %v: a hang. Replay with -seed %d -tasks %d (STRESS_SEED=%d for the tests).\n",
		seed, after, seed, n, seed)
	_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
	os.Exit(3)
}
