package bench

import (
	"fmt"
	"testing"
)

// taskCounts and submitterCounts are W8's sizes.
var (
	taskCounts      = []int{10_000, 100_000, 1_000_000, 4_000_000}
	submitterCounts = []int{1, 4, 16, 64}
)

// BenchmarkW8 (lazysched alone) is W1's work at other sizes: the per-task
// cost from 10,000 to 4,000,000 tasks (tasks=N, one submitter, cap 8,
// handles kept and awaited). cmd/report prints each one's ns/task as a
// ratio to tasks=10000 (DESIGN §10: within 10% from 10k to 4M).
func BenchmarkW8(b *testing.B) {
	r := lazyRunner{label: "lazysched"}
	for round := range rounds {
		k := round % len(taskCounts) // rotated each round, like the runners
		for _, n := range append(append([]int(nil), taskCounts[k:]...), taskCounts[:k]...) {
			n := scaled(n)
			b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
				measure(b, n, func() { r.run(n, 8, 1, noop) })
			})
		}
	}
}

// BenchmarkW9 (lazysched alone) is W1 from 1 to 64 submitters sharing
// 1,000,000 tasks (subs=N); cmd/report prints each one's ns/task as a
// ratio to subs=1 (DESIGN §10: flat).
func BenchmarkW9(b *testing.B) {
	r := lazyRunner{label: "lazysched"}
	for round := range rounds {
		k := round % len(submitterCounts)
		for _, subs := range append(append([]int(nil), submitterCounts[k:]...), submitterCounts[:k]...) {
			n := scaled(1_000_000)
			b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
				measure(b, n, func() { r.run(n, 8, subs, noop) })
			})
		}
	}
}
