package bench

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// keep64 is a 64 B object, the size of a lazytask.Task[struct{}].
type keep64 struct{ a, b, c, d, e, f, g, h uintptr }

// keptObjects holds what BenchmarkKeep64 keeps, so that it is kept.
var keptObjects []*keep64

// BenchmarkKeep64 is no scheduler at all: what it costs to allocate and
// keep 1,000,000 objects of 64 B (a handle per task) on this machine,
// "fresh" on memory the runtime has just given back to the OS (as
// between the rounds of W1 and W6, where other runners run while the
// scavenger returns the heap that lazysched's kept handles had grown),
// "reused" on memory the heap still holds. The difference is the page
// faults (faults/task): it tells how much of W1's and W6's per-task cost
// is the memory a kept handle needs, whoever allocates it.
func BenchmarkKeep64(b *testing.B) {
	n := scaled(1_000_000)
	fill := func() {
		hs := make([]*keep64, n)
		for i := range hs {
			o := new(keep64)
			o.a = uintptr(i)
			hs[i] = o
		}
		keptObjects = hs
	}
	for range rounds {
		b.Run("fresh", func(b *testing.B) {
			keptObjects = nil
			debug.FreeOSMemory()
			measure(b, n, fill)
		})
		b.Run("reused", func(b *testing.B) {
			fill() // the heap grows to hold them, then keeps the memory
			keptObjects = nil
			runtime.GC()
			measure(b, n, fill)
		})
	}
	keptObjects = nil
}
