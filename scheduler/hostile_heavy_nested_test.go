package scheduler

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

// At the root, a heavy head that does not fit is not overtaken, "so a
// heavy task is not overtaken forever" (admitOne); below the root too.
// Under a capped scope P, a head as heavy as P's cap waited while a
// sibling scope's lighter tasks, queued after it, took each slot of P that
// freed up, for as long as the sibling kept one task running: here three
// later tasks of the sibling ran, one after the other, while the heavy
// task, first in line, never started. Now it starts when y1 ends.
func TestHeavyHeadUnderANestedCapIsNotOvertaken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(WithLimit(8))
		require.NoError(t, err)
		p, err := s.Root().NewScope(WithLimit(2))
		require.NoError(t, err)
		x, err := p.NewScope()
		require.NoError(t, err)
		y, err := p.NewScope()
		require.NoError(t, err)
		var mu sync.Mutex
		var order []string
		gates := map[string]chan struct{}{}
		job := func(sp Spawner, name string, w int) *lazytask.Task[struct{}] {
			g := make(chan struct{})
			gates[name] = g
			h, err := Go(sp, func(context.Context) error { mu.Lock(); order = append(order, name); mu.Unlock(); <-g; return nil }, lazytask.WithWeight(w))
			require.NoError(t, err)
			return h
		}
		job(y, "y1", 1)
		synctest.Wait()
		heavy := job(x, "x", 2) // first in line under p, waits for both slots
		synctest.Wait()
		// The sibling keeps one task running at all times: each new one
		// comes before the one before it ends.
		for i, n := range []string{"y2", "y3", "y4"} {
			job(y, n, 1)
			synctest.Wait()
			close(gates[[]string{"y1", "y2", "y3"}[i]])
			synctest.Wait()
		}
		for _, g := range gates {
			select {
			case <-g:
			default:
				close(g)
			}
		}
		require.NoError(t, heavy.Wait(context.Background()))
		require.NoError(t, s.Shutdown(context.Background()))
		require.Equal(t, "x", order[1], "the heavy task, queued before y2, y3 and y4, started after %v", order)
	})
}
