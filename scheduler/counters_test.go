package scheduler_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// statsAddUp checks Stats' bookkeeping identity: every task made for the
// scheduler is counted once, in an outcome, as rejected, or as live.
func statsAddUp(t *testing.T, st scheduler.Stats, when string) {
	t.Helper()
	sum := st.Succeeded + st.Failed + st.Canceled + st.Rejected + uint64(st.Queued+st.Running+st.Lazy)
	assert.Equal(t, st.Created, sum, "%s: Created = Succeeded %d + Failed %d + Canceled %d + Rejected %d + Queued %d + Running %d + Lazy %d",
		when, st.Succeeded, st.Failed, st.Canceled, st.Rejected, st.Queued, st.Running, st.Lazy)
}

func TestStatsCountEveryTaskOnceWhateverBecomesOfIt(t *testing.T) {
	bg := context.Background()
	s := scSched(t, scheduler.WithLimit(1))
	hold, gate := scHold(t, s) // everything below queues behind it
	statsAddUp(t, s.Stats(), "one running")

	// Refused at submit: bad input, a canceled scope, a weight over the cap.
	_, err := scheduler.Submit[int](s, nil)
	require.ErrorIs(t, err, lazytask.ErrNilFunc)
	dead := scChild(t, s.Root())
	dead.Cancel(nil)
	_, err = scheduler.Go(dead, func(context.Context) error { return nil })
	require.ErrorIs(t, err, scheduler.ErrScopeCanceled)
	_, err = scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithWeight(2))
	require.ErrorIs(t, err, scheduler.ErrWeightTooLarge)
	_ = scheduler.NewTask(dead, func(context.Context) (int, error) { return 0, nil }) // refused: scope canceled

	// Live ones: queued, lazy, and a lazytask.New task handed over.
	queued, err := scheduler.Go(s, func(context.Context) error { return errors.New("fails") })
	require.NoError(t, err)
	toCancel, err := scheduler.Go(s, func(context.Context) error { return nil })
	require.NoError(t, err)
	lazyKept := scheduler.NewTask(s, func(context.Context) (int, error) { return 1, nil })
	lazyEnqueued := scheduler.NewTask(s, func(context.Context) (int, error) { return 2, nil })
	require.NoError(t, s.Enqueue(lazyEnqueued))
	plain := lazytask.New(func(context.Context) (int, error) { return 3, nil })
	require.NoError(t, s.Enqueue(plain))
	forced := lazytask.New(func(context.Context) (int, error) { return 4, nil })
	require.NoError(t, s.Force(forced))
	_, _ = forced.Await(bg)
	child := scChild(t, s.Root())
	lazyInChild := scheduler.NewTask(child, func(context.Context) (int, error) { return 5, nil })

	st := s.Stats()
	statsAddUp(t, st, "with queued, lazy and refused tasks")
	assert.Equal(t, uint64(4), st.Rejected, "Stats().Rejected: nil fn, canceled scope, too heavy, NewTask in a canceled scope")
	assert.Equal(t, 2, st.Lazy, "Stats().Lazy")

	toCancel.Cancel(nil)
	child.Cancel(nil) // its Lazy task ends Canceled without being submitted
	_, _ = lazyInChild.Await(bg)
	statsAddUp(t, s.Stats(), "after the cancels")

	gate.open()
	_, _ = hold.Await(bg)
	_, _ = queued.Await(bg)
	require.NoError(t, s.Wait(bg))
	st = s.Stats()
	statsAddUp(t, st, "idle")
	assert.Equal(t, 1, st.Lazy, "Stats().Lazy: the NewTask task never handed over")
	assert.Equal(t, uint64(1), st.Failed, "Stats().Failed")

	require.NoError(t, s.Shutdown(bg)) // ends the kept Lazy task Canceled
	_, _ = lazyKept.Await(bg)
	st = s.Stats()
	statsAddUp(t, st, "after Shutdown")
	assert.Zero(t, st.Lazy, "Stats().Lazy after Shutdown")
	_, err = scheduler.Go(s, func(context.Context) error { return nil })
	require.ErrorIs(t, err, scheduler.ErrClosed)
	statsAddUp(t, s.Stats(), "after a submit refused as closed")
}

func TestScopeStatsCountTheSubtreeReleasedChildrenIncluded(t *testing.T) {
	bg := context.Background()
	s := scSched(t, scheduler.WithLimit(4))
	crawl := scChild(t, s.Root(), scheduler.WithName("crawl"), scheduler.WithLimit(2))
	host := scChild(t, crawl, scheduler.WithName("host"), scheduler.WithLimit(1))
	other := scChild(t, s.Root(), scheduler.WithName("other"))

	h1, g1 := scHold(t, host)
	queued, err := scheduler.Go(host, func(context.Context) error { return errors.New("fails") })
	require.NoError(t, err)
	_, err = scheduler.Go(other, func(context.Context) error { return nil })
	require.NoError(t, err)
	_ = scheduler.NewTask(crawl, func(context.Context) (int, error) { return 0, nil })

	st := crawl.Stats()
	statsAddUp(t, st, "crawl's subtree")
	assert.Equal(t, [5]int{2, 1, 1, 1, 1}, [5]int{st.Limit, st.InUse, st.Running, st.Queued, st.Lazy},
		"crawl.Stats() Limit, InUse, Running, Queued, Lazy")
	hs := host.Stats()
	assert.Equal(t, [3]int{1, 1, 1}, [3]int{hs.Limit, hs.Running, hs.Queued}, "host.Stats() Limit, Running, Queued")
	assert.True(t, other.Stats().Unlimited, "a scope with no cap of its own is Unlimited in its Stats")

	g1.open()
	_, _ = h1.Await(bg)
	_, _ = queued.Await(bg)
	require.NoError(t, crawl.Wait(bg))
	host.Cancel(nil) // released: its totals stay in crawl's
	require.NoError(t, s.Wait(bg))
	st = crawl.Stats()
	statsAddUp(t, st, "crawl after host was released")
	assert.Equal(t, [3]uint64{1, 1, 3}, [3]uint64{st.Succeeded, st.Failed, st.Created}, "crawl.Stats() Succeeded, Failed, Created")
	all := s.Stats()
	statsAddUp(t, all, "the scheduler")
	assert.Equal(t, uint64(4), all.Created, "Scheduler.Stats().Created")
	assert.Equal(t, all, s.Root().Stats(), "the root scope's Stats are the scheduler's")
}
