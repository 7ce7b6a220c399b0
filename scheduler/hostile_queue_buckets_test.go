package scheduler

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

// Through the public API: a queue that always holds a task of its newest,
// highest priority while the older ones leave it (here canceled) keeps no
// bucket for each priority it once held (I12). It kept 1000.
func TestHostileCanceledPrioritiesLeaveNoBuckets(t *testing.T) {
	s, err := New(WithLimit(1))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
	open := rvHold(t, s)
	t.Cleanup(open)
	noop := func(context.Context) error { return nil }
	prev, err := Go(s, noop, lazytask.WithPriority(0))
	require.NoError(t, err)
	for i := 1; i <= 1000; i++ {
		h, err := Go(s, noop, lazytask.WithPriority(i))
		require.NoError(t, err)
		require.True(t, prev.Cancel(errors.New("superseded")))
		prev = h
	}
	s.lock()
	n := 0 // len(s.root.q.more.heap), read through reflect: core keeps it unexported
	if m := reflect.ValueOf(&s.root.q).Elem().FieldByName("more"); !m.IsNil() {
		n = m.Elem().FieldByName("heap").Len()
	}
	s.unlock()
	require.LessOrEqual(t, n, 4, "buckets held by a root queue of one task")
	open()
	require.NoError(t, prev.Wait(context.Background()))
}
