package errgroup_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"

	"github.com/lazysched/lazysched/factory/errgroup"
)

// x/sync's errgroup works inside a synctest bubble: nothing it starts
// outlives Wait for good.
func TestHostileSynctestZeroGroupInASynctestBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g errgroup.Group
		g.SetLimit(2)
		for i := range 10 {
			g.Go(func() error {
				if i == 3 {
					return errors.New("e3")
				}
				return nil
			})
		}
		assert.EqualError(t, g.Wait(), "e3")
		g2, ctx := errgroup.WithContext(context.Background())
		g2.Go(func() error { <-ctx.Done(); return nil })
		g2.Go(func() error { return errors.New("x") })
		assert.EqualError(t, g2.Wait(), "x")
	})
}

// Rounds: Go after Wait runs on the next round's scheduler, Wait twice is
// Wait once, and nothing outlives the last Wait.
func TestHostileSynctestZeroGroupRoundsInABubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, ctx := errgroup.WithContext(context.Background())
		for round := range 3 {
			for range 4 {
				g.Go(func() error { return nil })
			}
			assert.NoError(t, g.Wait(), "round %d", round)
			assert.NoError(t, g.Wait(), "round %d, Wait again", round)
		}
		assert.Error(t, ctx.Err(), "Wait canceled the context")
		var inner errgroup.Group
		inner.Go(func() error {
			var nested errgroup.Group
			nested.Go(func() error { return errors.New("deep") })
			return nested.Wait()
		})
		assert.EqualError(t, inner.Wait(), "deep")
	})
}
