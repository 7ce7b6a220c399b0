package factory_test

import (
	"context"
	"runtime"
	"testing"
	"weak"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
)

// A Lazy task that carries a long-lived context (WithContext of a base
// context) is held by that context's watch only while its end can be
// observed (I12). A Completed loop that stops (its context ends, or it
// breaks) takes back the callback it put on the task: nothing observes
// the task any more, so once its maker drops it, it is garbage, as if the
// loop had never looked at it. The strong hold that the callback gave it
// stayed after the callback was taken back: every such task lived as long
// as the base context.
func TestHostileCompletedLoopThatStopsLetsADroppedCarryingLazyTaskGo(t *testing.T) {
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	type payload [256]byte
	w := func() weak.Pointer[payload] {
		p := &payload{1}
		h := lazytask.New(func(context.Context) (int, error) { return int(p[0]), nil }, lazytask.WithContext(base))
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // the loop stops at once: nobody starts h
		for range factory.Completed(ctx, h) {
			t.Fatal("a Lazy task nobody started was yielded")
		}
		require.Equal(t, lazytask.Lazy, h.State())
		return weak.Make(p)
	}()
	require.True(t, collectedW(w), "a dropped Lazy task whose only observer went away is kept by its carried context")
}

// collectedW reports whether w's value is collected within a few GCs.
func collectedW[T any](w weak.Pointer[T]) bool {
	for range 20 {
		runtime.GC()
		if w.Value() == nil {
			return true
		}
	}
	return false
}
