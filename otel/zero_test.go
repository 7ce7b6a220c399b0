package lazyotel_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lazysched/lazysched/scheduler"

	lazyotel "github.com/lazysched/lazysched/otel"
)

// A nil or zero Observer panics at once, naming the mistake, instead of
// handing out hooks that would panic in every task's steps (Hooks), or a
// nil dereference (Close).
func TestNilOrZeroObserverPanicsNamingIt(t *testing.T) {
	const want = "lazyotel: method called on a nil or zero *Observer (make one with New)"
	for name, o := range map[string]*lazyotel.Observer{"nil": nil, "zero": new(lazyotel.Observer)} {
		assert.PanicsWithValue(t, want, func() { o.Hooks() }, "%s Observer: Hooks", name)
		assert.PanicsWithValue(t, want, func() { o.Observe((*scheduler.Scope)(nil)) }, "%s Observer: Observe", name)
		assert.PanicsWithValue(t, want, func() { _ = o.Close() }, "%s Observer: Close", name)
	}
}
