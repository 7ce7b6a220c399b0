// Command stress runs the lazysched stress driver (package stress) for a
// long time and prints its figures: tasks per second, peak heap, goroutines
// at the end and violations, which must be 0. It exits with status 1 on any
// violation or leaked goroutine. With -soak it runs the soak instead: a
// million tasks pending behind a blocked cap, then a slow drain.
//
// Build it with the invariant checks on:
//
//	go run -tags lazysched_check ./internal/stress/cmd/stress -tasks 10000000
//
// A failing round prints its seed; replay it alone with
//
//	go run -tags lazysched_check ./internal/stress/cmd/stress -seed S -tasks N
//
// A round that hangs prints its seed and every goroutine's stack, and the
// process exits with status 3; a failed invariant check in the library
// panics, and -v prints each round's seed as it starts so that the crash
// can be traced to its round.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"go.uber.org/goleak"

	"github.com/lazysched/lazysched/internal/stress"
)

func main() {
	var (
		tasks      = flag.Int("tasks", 10_000_000, "tasks to make over the run")
		seed       = flag.Uint64("seed", 0, "seed of the first round (0: from STRESS_SEED, else the clock)")
		submitters = flag.Int("submitters", 8, "submitting goroutines")
		round      = flag.Int("round", 20_000, "tasks per scheduler (round)")
		strict     = flag.Bool("strict", false, "count symptoms of known bugs as violations")
		soak       = flag.Bool("soak", false, "run the soak instead: -soak-tasks pending, then a slow drain")
		soakTasks  = flag.Int("soak-tasks", 1_000_000, "pending tasks in the soak")
		verbose    = flag.Bool("v", false, "print each round's seed as it starts (a crash then shows its round)")
	)
	flag.Parse()
	os.Exit(run(*tasks, *seed, *submitters, *round, *strict, *verbose, *soak, *soakTasks))
}

func run(tasks int, seed uint64, submitters, round int, strict, verbose, soak bool, soakTasks int) int {
	if seed == 0 {
		if s, err := strconv.ParseUint(os.Getenv("STRESS_SEED"), 10, 64); err == nil {
			seed = s
		} else {
			seed = uint64(time.Now().UnixNano())
		}
	}
	sampler := startSampler()
	status := 0
	if soak {
		fmt.Printf("soak: %d tasks pending behind a blocked cap, then a slow drain\n", soakTasks)
		rep := stress.Soak(stress.SoakConfig{Tasks: soakTasks})
		fmt.Print(rep)
		if rep.Violations > 0 {
			status = 1
		}
	} else {
		fmt.Printf("stress: seed %d, %d tasks, %d submitters, %d tasks per round, GOMAXPROCS %d (replay: -seed %d)\n",
			seed, tasks, submitters, round, runtime.GOMAXPROCS(0), seed)
		rep := stress.Run(stress.Config{
			Seed: seed, Tasks: tasks, RoundTasks: round, Submitters: submitters, Strict: strict,
			Progress: os.Stdout, Verbose: verbose,
		})
		fmt.Print(rep)
		if rep.Violations > 0 {
			status = 1
		}
	}
	peak := sampler.stop()
	fmt.Printf("peak heap in use: %.1f MiB\n", float64(peak)/(1<<20))
	if err := goleak.Find(); err != nil {
		fmt.Printf("goroutines left at the end: %v\n", err)
		status = 1
	}
	fmt.Printf("goroutines at the end: %d\n", runtime.NumGoroutine())
	if status != 0 {
		fmt.Println("FAIL")
	} else {
		fmt.Println("PASS")
	}
	return status
}

// sampler records the peak of runtime.MemStats.HeapInuse.
type sampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

func startSampler() *sampler {
	s := &sampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-t.C:
			case <-s.done:
				return
			}
		}
	}()
	return s
}

func (s *sampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.peak = max(s.peak, ms.HeapInuse)
}

func (s *sampler) stop() uint64 {
	close(s.done)
	s.wg.Wait()
	s.sample()
	return s.peak
}
