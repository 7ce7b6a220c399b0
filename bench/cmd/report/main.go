// Command report reads the output of the bench/ benchmarks and prints, for
// each workload, the median of every metric per runner and the ratio of
// the main metric to lazysched's, then checks the targets of DESIGN §10.
//
// Usage:
//
//	go run ./cmd/report results/run.txt
//	go test -bench . -benchtime 1x | go run ./cmd/report
//
// Samples of one runner are folded whatever their #NN suffix (a repeated
// sub-benchmark name) or -count repeat.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: report [file]  (reads standard input without one)")
		flag.PrintDefaults()
	}
	flag.Parse()
	var in io.Reader = os.Stdin
	if flag.NArg() > 0 {
		f, err := os.Open(flag.Arg(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		defer f.Close()
		in = f
	}
	res, err := parse(bufio.NewScanner(in))
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	if len(res.groups) == 0 {
		fmt.Fprintln(os.Stderr, "report: no benchmark results in the input")
		os.Exit(1)
	}
	printTables(os.Stdout, res)
	fmt.Fprintln(os.Stdout)
	printTargets(os.Stdout, res)
}
