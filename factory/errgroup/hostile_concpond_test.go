package errgroup_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lazysched/lazysched/factory/errgroup"
)

// conc's ErrorPool.WithFirstError and pond's group Wait, on errgroup's zero
// value: the first Go racing from many goroutines makes one scheduler, every
// function runs, Wait returns the first error unwrapped, and a second round
// after Wait works.
func TestHoZeroGroupFirstGoRacedFromManyGoroutines(t *testing.T) {
	for range 20 {
		var g errgroup.Group
		errFirst := errors.New("first")
		var ran atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		release := make(chan struct{})
		g.Go(func() error { <-release; return nil }) // keeps the round open
		for i := range 16 {
			wg.Go(func() {
				<-start
				g.Go(func() error {
					ran.Add(1)
					if i == 0 {
						return errFirst
					}
					return nil
				})
			})
		}
		close(start)
		wg.Wait()
		close(release)
		err := waitBounded(t, &g)
		assert.Same(t, errFirst, err, "Wait() = %v; want the first error unwrapped", err)
		assert.Equal(t, int32(16), ran.Load())
		// Round two.
		g.Go(func() error { ran.Add(1); return nil })
		assert.Same(t, errFirst, waitBounded(t, &g), "the first error is kept across rounds")
		assert.Equal(t, int32(17), ran.Load())
	}
}
