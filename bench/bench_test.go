package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// The workloads of issue 5 (targets in DESIGN §10). Every benchmark op is
// one whole workload (a million tasks for W1), so run them with
// -benchtime=1x; run.sh does, with BENCH_ROUNDS rounds and -count=1.
//
// Environment:
//
//	BENCH_ROUNDS        rounds per benchmark, runner order rotated each round (1)
//	BENCH_SPAWN_ROUNDS  how many of W6's rounds measure the peers that need a
//	                    goroutine per pending task too: a million goroutines
//	                    take ~20 s a sample on a 2-core machine, and their
//	                    B/pending hardly varies (BENCH_ROUNDS)
//	BENCH_SCALE         factor on every task count, for quick runs (1)
var (
	rounds      = envInt("BENCH_ROUNDS", 1)
	spawnRounds = min(rounds, envInt("BENCH_SPAWN_ROUNDS", rounds))
	scale       = envFloat("BENCH_SCALE", 1)
)

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

func envFloat(key string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(key), 64); err == nil && v > 0 {
		return v
	}
	return def
}

// scaled is n times BENCH_SCALE, at least 1000.
func scaled(n int) int { return max(1000, int(float64(n)*scale)) }

// eachRound runs f as one sub-benchmark per runner, BENCH_ROUNDS times,
// shifting the runners' order by one each round so that no runner always
// runs first (on a cold heap) or right after the same neighbour. Go names
// the repeats name#01, name#02...; cmd/report and run.sh fold them.
func eachRound(b *testing.B, rounds int, rs []runner, f func(b *testing.B, r runner)) {
	for round := range rounds {
		for _, r := range rotate(rs, round) {
			b.Run(r.name(), func(b *testing.B) { f(b, r) })
		}
	}
}

// rotate returns rs shifted left by k.
func rotate(rs []runner, k int) []runner {
	if len(rs) == 0 {
		return nil
	}
	k %= len(rs)
	return append(rs[k:len(rs):len(rs)], rs[:k]...)
}

// measure times b.N calls of op, each running n tasks, after a GC, and
// reports ns/task, allocs/task and B/task. It returns the time of one op.
func measure(b *testing.B, n int, op func()) time.Duration {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	f0 := minorFaults()
	b.ResetTimer()
	t0 := time.Now()
	for range b.N {
		op()
	}
	el := time.Since(t0)
	b.StopTimer()
	f1 := minorFaults()
	runtime.ReadMemStats(&m1)
	tasks := float64(b.N) * float64(n)
	b.ReportMetric(float64(el.Nanoseconds())/tasks, "ns/task")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/tasks, "allocs/task")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/tasks, "B/task")
	b.ReportMetric(float64(f1-f0)/tasks, "faults/task")
	return el / time.Duration(b.N)
}

// minorFaults is the process's page faults so far (getrusage): a page
// touched for the first time since the runtime had it from the OS, or
// since it gave it back, is one.
func minorFaults() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Minflt
}

func throughput(b *testing.B, n, limit, subs int, task func()) {
	eachRound(b, rounds, runners(), func(b *testing.B, r runner) {
		measure(b, n, func() { r.run(n, limit, subs, task) })
	})
}

// BenchmarkW1 is 1,000,000 no-op tasks from one submitter under cap 8.
func BenchmarkW1(b *testing.B) { throughput(b, scaled(1_000_000), 8, 1, noop) }

// BenchmarkW2 is W1 under cap 1024.
func BenchmarkW2(b *testing.B) { throughput(b, scaled(1_000_000), 1024, 1, noop) }

// BenchmarkW3 is W1 from GOMAXPROCS submitters sharing the tasks.
func BenchmarkW3(b *testing.B) {
	throughput(b, scaled(1_000_000), 8, runtime.GOMAXPROCS(0), noop)
}

// BenchmarkW4 is 100,000 tasks sleeping 100µs each under cap 1000.
func BenchmarkW4(b *testing.B) { throughput(b, scaled(100_000), 1000, 1, sleepTask) }

// BenchmarkW5 is 10,000 CPU-bound tasks of about 20µs under cap
// GOMAXPROCS. It reports efficiency = ideal/actual, where ideal is
// n·taskTime/GOMAXPROCS and taskTime is measured serially just before.
func BenchmarkW5(b *testing.B) {
	n := scaled(10_000)
	procs := runtime.GOMAXPROCS(0)
	iters := spinIters()
	task := func() { spin(iters) }
	eachRound(b, rounds, runners(), func(b *testing.B, r runner) {
		taskTime := serialTime(task, max(20, n/100))
		el := measure(b, n, func() { r.run(n, procs, 1, task) })
		ideal := float64(n) * float64(taskTime) / float64(procs)
		b.ReportMetric(ideal/float64(el), "efficiency")
		b.ReportMetric(float64(taskTime.Nanoseconds()), "ns/cputask")
	})
}

// BenchmarkW6 is the cost of pending tasks: cap 1 held by a blocked task,
// then 1,000,000 submits. It reports B/pending (heap and goroutine stacks
// grown, after GC, per pending task), heapB/pending (heap alone) and
// ns/submit. Each sample runs in a fresh process (this test binary, run
// again), so that no heap left by an earlier sample counts. Peers that need
// a goroutine per pending task run only in the first BENCH_SPAWN_ROUNDS
// rounds.
func BenchmarkW6(b *testing.B) {
	n := scaled(1_000_000)
	var rs []runner
	for _, r := range runners() {
		if _, uncapped := r.(rawRunner); !uncapped {
			rs = append(rs, r)
		}
	}
	for round := range rounds {
		var these []runner
		for _, r := range rs {
			if round < spawnRounds || !spawns(r) {
				these = append(these, r)
			}
		}
		eachRound(b, 1, rotate(these, round), func(b *testing.B, r runner) {
			var sum backlogResult
			for range b.N {
				res, err := runBacklogChild(r.name(), n)
				if err != nil {
					b.Fatal(err)
				}
				sum.bytes += res.bytes
				sum.heap += res.heap
				sum.ns += res.ns
			}
			N := float64(b.N)
			b.ReportMetric(sum.bytes/N, "B/pending")
			b.ReportMetric(sum.heap/N, "heapB/pending")
			b.ReportMetric(sum.ns/N, "ns/submit")
		})
	}
}

// spawns reports whether r's backlog needs a goroutine per pending task.
func spawns(r runner) bool {
	gate := make(chan struct{})
	bl := r.backlog(0, gate, noop)
	_, ok := bl.(*spawned)
	close(gate)
	bl.drain()
	return ok
}

// queueOpsCalls is the number of calls one QueueOps sample times.
const queueOpsCalls = 1000

// BenchmarkQueueOps (lazysched alone) times Promote, Cancel and Force of
// queued tasks spread over a queue of 10k and of 1M tasks behind cap 1
// held by a blocked task. Each sub-benchmark reports ns/call; a scan of
// the queue would make 1M a hundred times slower than 10k.
func BenchmarkQueueOps(b *testing.B) {
	sizes := []int{10_000, max(20_000, scaled(1_000_000))}
	for round := range rounds {
		for i := range sizes {
			q := sizes[(i+round)%len(sizes)]
			label := "queued=" + short(q)
			qs := newQueued(b, q)
			b.Run("promote", func(b *testing.B) {
				b.Run(label, func(b *testing.B) {
					qs.time(b, 0, func(h *lazytask.Task[struct{}]) error { return qs.s.Promote(h) })
				})
			})
			b.Run("cancel", func(b *testing.B) {
				b.Run(label, func(b *testing.B) {
					qs.time(b, 1, func(h *lazytask.Task[struct{}]) error {
						if !h.Cancel(nil) {
							return fmt.Errorf("Cancel of a %v task = false", h.State())
						}
						return nil
					})
				})
			})
			b.Run("force", func(b *testing.B) {
				b.Run(label, func(b *testing.B) {
					qs.time(b, 2, func(h *lazytask.Task[struct{}]) error { return qs.s.Force(h) })
				})
			})
			qs.close()
		}
	}
}

// short writes 10000 as 10k and 1000000 as 1M.
func short(n int) string {
	switch {
	case n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// queued is a scheduler of cap 1, its slot held by a blocked task, with
// many tasks queued behind it.
type queued struct {
	s    *scheduler.Scheduler
	gate chan struct{}
	hs   []*lazytask.Task[struct{}]
}

func newQueued(b *testing.B, q int) *queued {
	s, err := scheduler.New(scheduler.WithLimit(1))
	if err != nil {
		b.Fatal(err)
	}
	qs := &queued{s: s, gate: make(chan struct{}), hs: make([]*lazytask.Task[struct{}], q)}
	holdSlot(qs.gate, func(h func()) {
		_, err := scheduler.Submit(s, lazyFunc(h))
		must(err)
	})
	fn := lazyFunc(noop)
	for i := range qs.hs {
		if qs.hs[i], err = scheduler.Submit(s, fn); err != nil {
			b.Fatal(err)
		}
	}
	// Stats links the submit inbox into the queue, so that the first timed
	// call does not pay for building the queue.
	if st := s.Stats(); st.Queued != q {
		b.Fatalf("%d tasks queued after %d submits", st.Queued, q)
	}
	return qs
}

// time calls op on b.N·queueOpsCalls queued tasks spread evenly over the
// queue, among those whose index is offset modulo 3 (so that promote,
// cancel and force each get tasks of their own), and reports ns/call.
func (qs *queued) time(b *testing.B, offset int, op func(*lazytask.Task[struct{}]) error) {
	calls := b.N * queueOpsCalls
	third := len(qs.hs) / 3
	if calls > third {
		b.Fatalf("%d calls need a queue of %d tasks; run with -benchtime=1x", calls, 3*calls)
	}
	picked := make([]*lazytask.Task[struct{}], calls)
	for i := range picked {
		picked[i] = qs.hs[3*(i*third/calls)+offset]
	}
	runtime.GC()
	b.ResetTimer()
	t0 := time.Now()
	for _, h := range picked {
		if err := op(h); err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(el.Nanoseconds())/float64(calls), "ns/call")
}

// close releases the blocked task and shuts the scheduler down, canceling
// what is still queued.
func (qs *queued) close() {
	close(qs.gate)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = qs.s.Shutdown(ctx) // the grace period is over at once: reports ctx's error
}

// BenchmarkHooks is W1 for lazysched with hooks registered that do
// nothing ("empty": OnCreate, OnQueue, OnStart and OnDone, each a function
// that returns) against none ("none"), in rotated rounds. Target: at most
// 10% slower.
func BenchmarkHooks(b *testing.B) {
	n := scaled(1_000_000)
	empty := func(context.Context, *scheduler.Scope, lazytask.Handle) {}
	emptyStart := func(context.Context, *scheduler.Scope, lazytask.Handle) context.Context { return nil }
	rs := []runner{
		lazyRunner{label: "none"},
		lazyRunner{label: "empty", opts: []scheduler.SchedulerOption{scheduler.WithHooks(scheduler.Hooks{
			OnCreate: empty, OnQueue: empty, OnStart: emptyStart, OnDone: empty,
		})}},
	}
	eachRound(b, rounds, rs, func(b *testing.B, r runner) {
		measure(b, n, func() { r.run(n, 8, 1, noop) })
	})
}
