package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// scopeCounts are W7's numbers of capped scopes.
var scopeCounts = []int{1, 100, 1000, 10000}

// BenchmarkW7 (lazysched alone; no peer has nested caps) is admission
// across many scopes: a root cap of 16, n child scopes of cap 4 each,
// 200,000 no-op tasks submitted round-robin across them, handles kept and
// awaited. Its sub-benchmarks are named scopes=N; cmd/report prints each
// one's ns/task as a ratio to scopes=1 (DESIGN §10: <= 1.3x at 1,000 and
// 10,000). Making the scopes is outside the timing.
func BenchmarkW7(b *testing.B) {
	tasks := scaled(200_000)
	for round := range rounds {
		k := round % len(scopeCounts) // rotated each round, like the runners
		for _, n := range append(append([]int(nil), scopeCounts[k:]...), scopeCounts[:k]...) {
			b.Run(fmt.Sprintf("scopes=%d", n), func(b *testing.B) {
				s, err := scheduler.New(scheduler.WithLimit(16))
				must(err)
				scs := make([]*scheduler.Scope, n)
				for i := range scs {
					scs[i], err = s.Root().NewScope(scheduler.WithLimit(4))
					must(err)
				}
				fn := lazyFunc(noop)
				measure(b, tasks, func() {
					hs := make([]*lazytask.Task[struct{}], tasks)
					for i := range hs {
						hs[i], err = scheduler.Submit(scs[i%n], fn)
						must(err)
					}
					for _, h := range hs {
						_, err := h.Await(context.Background())
						must(err)
					}
				})
				must(s.Shutdown(context.Background()))
			})
		}
	}
}
