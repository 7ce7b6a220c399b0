package errgroup_test

import (
	"testing"

	xeg "golang.org/x/sync/errgroup"

	"github.com/lazysched/lazysched/factory/errgroup"
)

// BenchmarkGo compares this package with x/sync's errgroup on the plain
// use: a zero Group, 1,000 no-op Go calls, Wait. Each op is one group; the
// figure per Go is ns/op / 1000.
func BenchmarkGo(b *testing.B) {
	b.Run("lazysched", func(b *testing.B) {
		for b.Loop() {
			var g errgroup.Group
			for range 1000 {
				g.Go(func() error { return nil })
			}
			_ = g.Wait()
		}
	})
	b.Run("x-sync", func(b *testing.B) {
		for b.Loop() {
			var g xeg.Group
			for range 1000 {
				g.Go(func() error { return nil })
			}
			_ = g.Wait()
		}
	})
}
