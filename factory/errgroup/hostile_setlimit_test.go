package errgroup_test

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/scheduler"
)

// SetLimit while functions are active is refused with x/sync's panic
// whether or not a limit was set before. With none set, the first
// SetLimit let itself be called (x/sync's check reads the length of a nil
// channel, 0): the function active then gave back a token it never took
// when it returned, the count went to -1, and the new limit of 1 let two
// functions run at once. (x/sync itself hangs there: the end of that
// function receives from an empty semaphore, and Wait never returns.)
func TestHostileSetLimitWhileActiveWithNoLimitBefore(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(4))
	for name, mk := range map[string]func() *errgroup.Group{
		"zero":        func() *errgroup.Group { return new(errgroup.Group) },
		"WithContext": func() *errgroup.Group { g, _ := errgroup.WithContext(bg); return g },
		"In":          func() *errgroup.Group { g, _ := errgroup.In(bg, s); return g },
	} {
		t.Run(name, func(t *testing.T) {
			g := mk()
			release := make(chan struct{})
			g.Go(func() error { <-release; return nil })
			assert.PanicsWithError(t, "errgroup: modify limit while 1 goroutines in the group are still active",
				func() { g.SetLimit(1) }, "SetLimit(1) while one function is active, no limit before")
			close(release)
			require.NoError(t, waitBounded(t, g))

			// The limit set once nothing is active holds.
			g.SetLimit(1)
			var cur, peak atomic.Int32
			for range 4 {
				g.Go(func() error {
					if n := cur.Add(1); n > peak.Load() {
						peak.Store(n)
					}
					cur.Add(-1)
					return nil
				})
			}
			require.NoError(t, waitBounded(t, g))
			assert.Equal(t, int32(1), peak.Load(), "functions active at once under SetLimit(1)")
		})
	}
}
