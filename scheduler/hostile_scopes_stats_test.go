package scheduler_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A task refused by a canceled (and so released) grandchild scope is made
// for its parent's subtree: Scope.Stats of the parent counts it as Created
// and Rejected, as the scheduler's Stats does, at every level.
func TestHostileScopeStatsCountTasksRefusedByAReleasedDescendant(t *testing.T) {
	s := hsSched(t)
	p := hsScope(t, s.Root())
	q := hsScope(t, p)
	x := hsScope(t, q)
	x.Cancel(hsCause)
	_, err := scheduler.Go(x, func(context.Context) error { return nil })
	require.ErrorIs(t, err, scheduler.ErrScopeCanceled)
	h := scheduler.NewTask(x, func(context.Context) (int, error) { return 1, nil })
	require.Equal(t, lazytask.Canceled, h.State())
	require.True(t, h.Info().Rejected, "NewTask on a canceled scope is refused")

	q.Cancel(hsCause) // q released too: its totals, x's included, go to p
	_, err = scheduler.Go(x, func(context.Context) error { return nil })
	require.ErrorIs(t, err, scheduler.ErrScopeCanceled)

	rs := s.Stats()
	require.EqualValues(t, 3, rs.Created)
	require.EqualValues(t, 3, rs.Rejected)
	for _, sc := range []*scheduler.Scope{p, q, x} {
		st := sc.Stats()
		assert.EqualValues(t, 3, st.Created, "scope %s: Created", sc.Name())
		assert.EqualValues(t, 3, st.Rejected, "scope %s: Rejected", sc.Name())
	}
}
