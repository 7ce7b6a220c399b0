package main

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
cpu: Some CPU
BenchmarkW1/pond-go-2         	       1	 400 ns/op	         17 B/task	   0.001 allocs/task	       400.0 ns/task
BenchmarkW1/lazysched-2       	       1	 200 ns/op	         90 B/task	   1 allocs/task	       200.0 ns/task
BenchmarkW1/pond-go#01-2      	       1	 500 ns/op	         17 B/task	   0.001 allocs/task	       500.0 ns/task
BenchmarkW1/lazysched#01-2    	       1	 300 ns/op	         90 B/task	   1 allocs/task	       300.0 ns/task
BenchmarkW1/lazysched#02-2    	       1	 100 ns/op	         90 B/task	   1 allocs/task	       100.0 ns/task
BenchmarkQueueOps/cancel/queued=10k-2	1	5 ns/op	100 ns/call
BenchmarkQueueOps/cancel#01/queued=1M-2	1	5 ns/op	150 ns/call
--- SKIP: BenchmarkHooks
PASS
`

func TestParseFoldsRepeats(t *testing.T) {
	res, err := parse(bufio.NewScanner(strings.NewReader(sample)))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.groups) != 2 {
		t.Fatalf("parse found %d groups; want 2 (W1, QueueOps/cancel)", len(res.groups))
	}
	if got, _ := res.med("W1", "lazysched", "ns/task"); got != 200 {
		t.Errorf("median ns/task of W1/lazysched = %v; want 200", got)
	}
	if got, _ := res.med("W1", "pond-go", "ns/task"); got != 450 {
		t.Errorf("median ns/task of W1/pond-go = %v; want 450", got)
	}
	if got, _ := res.med("QueueOps/cancel", "queued=1M", "ns/call"); got != 150 {
		t.Errorf("median ns/call of QueueOps/cancel/queued=1M = %v; want 150", got)
	}
}

func TestReportPrintsRatiosAndTargets(t *testing.T) {
	res, _ := parse(bufio.NewScanner(strings.NewReader(sample)))
	var out bytes.Buffer
	printTables(&out, res)
	printTargets(&out, res)
	for _, want := range []string{"x lazysched", "2.25", "W1, handles kept and awaited: time <= 1.0x pond Go's", "holds", "n/a", "1.50x"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestReportSetsLazyschedBesideTheFloor(t *testing.T) {
	const run = `BenchmarkW1/floor64-2   	1	 100 ns/op	 96 B/task	 1 allocs/task	 100.0 ns/task
BenchmarkW1/fixedpool-2 	1	 50 ns/op	 0 B/task	 0 allocs/task	 50.0 ns/task
BenchmarkW1/lazysched-2 	1	 300 ns/op	 96 B/task	 1 allocs/task	 300.0 ns/task
BenchmarkW5/floor64-2   	1	 100 ns/op	 0.9700 efficiency
BenchmarkW5/fixedpool-2 	1	 100 ns/op	 0.9800 efficiency
BenchmarkW5/lazysched-2 	1	 100 ns/op	 0.9700 efficiency
`
	res, err := parse(bufio.NewScanner(strings.NewReader(run)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	printFloor(&out, res)
	for _, want := range []string{"floor64 100 ns/task", "lazysched 3.00x the floor", "the floor is 2.00x the fixed pool",
		"W5 efficiency", "floor64 0.97 efficiency", "lazysched 1.00x the floor", "the floor is 0.99x the fixed pool"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("floor output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	printFloor(&out, &results{})
	if out.Len() != 0 {
		t.Errorf("floor output without floor64 figures = %q; want nothing", out.String())
	}
}
