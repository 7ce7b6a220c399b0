package scheduler_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// TestHMChildScopeReportNamesTheScopeItIsReportedIn: a supervisor's
// handler sees a failed fail-fast child as one failed "task" of its own
// (Kotlin's supervisorScope sees a failed child coroutine): info.Name is
// the child's name and info.Scope, like that of any task reported to the
// handler, the supervisor's, not "" (lazytask.Info: Scope is "" only for a
// task of no scheduler). A handler that counts failures by info.Scope put
// every child scope's failure under "" before.
func TestHMChildScopeReportNamesTheScopeItIsReportedIn(t *testing.T) {
	s := hsSched(t)
	reports := make(chan lazytask.Info, 4)
	sup := hsScope(t, s.Root(), scheduler.WithName("sup"), scheduler.Supervise(func(info lazytask.Info, err error) {
		reports <- info
	}))
	child := hsScope(t, sup, scheduler.WithName("child"), scheduler.FailFast())
	h, err := scheduler.Go(child, func(context.Context) error { return hmErrD }, lazytask.WithName("task"))
	require.NoError(t, err)
	_ = h.Wait(context.Background())
	require.NoError(t, sup.Wait(context.Background()))
	info := <-reports
	assert.Equal(t, "child", info.Name)
	assert.Equal(t, "sup", info.Scope, "the report's Scope")
	assert.Equal(t, lazytask.Failed, info.State)
	assert.ErrorIs(t, info.Err, hmErrD)

	// A task of the supervisor itself, for comparison.
	own, err := scheduler.Go(sup, func(context.Context) error { return hmErrD }, lazytask.WithName("own"))
	require.NoError(t, err)
	_ = own.Wait(context.Background())
	require.NoError(t, sup.Wait(context.Background()))
	info = <-reports
	assert.Equal(t, "own", info.Name)
	assert.Equal(t, "sup", info.Scope)
}
