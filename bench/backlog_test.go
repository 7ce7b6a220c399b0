package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// childEnv asks the test binary to measure one backlog instead of running
// tests: its value is "runner:n". W6 runs each sample that way, in a fresh
// process.
const childEnv = "LAZYSCHED_BENCH_BACKLOG"

// resultTag starts the child's line of results.
const resultTag = "backlog-result"

func TestMain(m *testing.M) {
	if v := os.Getenv(childEnv); v != "" {
		os.Exit(backlogChild(v))
	}
	os.Exit(m.Run())
}

// backlogResult is one W6 sample, per pending task.
type backlogResult struct {
	bytes float64 // heap and stack grown
	heap  float64 // heap grown
	ns    float64 // time of a submit
}

func backlogChild(v string) int {
	name, ns, _ := strings.Cut(v, ":")
	n, err := strconv.Atoi(ns)
	r := runnerNamed(name)
	if err != nil || r == nil {
		fmt.Fprintf(os.Stderr, "bad %s=%q\n", childEnv, v)
		return 2
	}
	res := measureBacklog(r, n)
	fmt.Printf("%s %g %g %g\n", resultTag, res.bytes, res.heap, res.ns)
	// The backlog is left as it is: the process ends here.
	return 0
}

// measureBacklog fills a backlog of r with n tasks and measures it. The
// pool is not drained: the caller is a process about to exit.
func measureBacklog(r runner, n int) backlogResult {
	// The baseline comes before the backlog is made, so that what the
	// backlog keeps per task counts, the caller's slice of handles (8 B a
	// task) included; what is made once (a pool, a scheduler) is noise at
	// a million.
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	gate := make(chan struct{})
	bl := r.backlog(n, gate, noop)
	t0 := time.Now()
	for range n {
		bl.add()
	}
	if l, ok := bl.(linker); ok {
		l.link() // work the submits left for later is theirs: time it too
	}
	el := time.Since(t0)
	if s, ok := bl.(*spawned); ok {
		s.settle()
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	runtime.KeepAlive(bl)
	heap := float64(int64(m1.HeapAlloc) - int64(m0.HeapAlloc))
	stack := float64(int64(m1.StackInuse) - int64(m0.StackInuse))
	return backlogResult{
		bytes: (heap + stack) / float64(n),
		heap:  heap / float64(n),
		ns:    float64(el.Nanoseconds()) / float64(n),
	}
}

// runBacklogChild measures the backlog of the runner called name in a new
// process of this test binary.
func runBacklogChild(name string, n int) (backlogResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return backlogResult{}, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d", childEnv, name, n))
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return backlogResult{}, fmt.Errorf("backlog child %s: %v\n%s", name, err, out.String())
	}
	for line := range strings.Lines(out.String()) {
		var res backlogResult
		if _, err := fmt.Sscanf(line, resultTag+" %g %g %g", &res.bytes, &res.heap, &res.ns); err == nil {
			return res, nil
		}
	}
	return backlogResult{}, fmt.Errorf("backlog child %s: no %q line in\n%s", name, resultTag, out.String())
}
