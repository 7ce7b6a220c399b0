package limiter_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
)

type grants struct{ order []string }

func (g *grants) req(name string, w int64, prio int32, got map[string]limiter.Permit) limiter.Request {
	return limiter.Request{Weight: w, Priority: prio, Granted: func(p limiter.Permit, err error) {
		if err != nil {
			g.order = append(g.order, name+":"+err.Error())
			return
		}
		g.order = append(g.order, name)
		got[name] = p
	}}
}

// Local grants in priority, then request order, and a request that does not
// fit holds back the ones behind it.
func TestLocalGrantsInPriorityThenRequestOrder(t *testing.T) {
	l, err := limiter.NewLocal(2)
	require.NoError(t, err)
	var g grants
	got := map[string]limiter.Permit{}
	l.Acquire(g.req("a", 2, 0, got))
	l.Acquire(g.req("low", 1, 0, got))
	l.Acquire(g.req("heavy", 2, 5, got))
	l.Acquire(g.req("high", 1, 5, got))
	assert.Equal(t, []string{"a"}, g.order)
	assert.Equal(t, 3, l.Waiting())
	got["a"].Release()
	got["a"].Release() // a second release does nothing
	assert.Equal(t, []string{"a", "heavy"}, g.order, "heavy has the priority and goes first")
	got["heavy"].Release()
	assert.Equal(t, []string{"a", "heavy", "high", "low"}, g.order)
	assert.Equal(t, int64(2), l.InUse())
	got["high"].Release()
	got["low"].Release()
	assert.Equal(t, int64(0), l.InUse())
}

// Canceling a waiting request removes it and lets the ones it held back
// in; canceling after the grant does nothing.
func TestLocalCancel(t *testing.T) {
	l, err := limiter.NewLocal(2)
	require.NoError(t, err)
	var g grants
	got := map[string]limiter.Permit{}
	cancelA := l.Acquire(g.req("a", 1, 0, got))
	cancelHeavy := l.Acquire(g.req("heavy", 2, 0, got))
	l.Acquire(g.req("b", 1, 0, got))
	assert.Equal(t, []string{"a"}, g.order)
	cancelHeavy()
	assert.Equal(t, []string{"a", "b"}, g.order)
	cancelA()
	assert.Equal(t, int64(2), l.InUse(), "cancel after the grant keeps the permit")
	assert.Equal(t, 0, l.Waiting())
}

func TestLocalBadInput(t *testing.T) {
	_, err := limiter.NewLocal(0)
	require.ErrorIs(t, err, limiter.ErrInvalidLimit)
	l, err := limiter.NewLocal(3)
	require.NoError(t, err)
	var errs []error
	for _, w := range []int64{0, -1, 4} {
		l.Acquire(limiter.Request{Weight: w, Granted: func(p limiter.Permit, err error) {
			assert.Nil(t, p)
			errs = append(errs, err)
		}})
	}
	require.Len(t, errs, 3)
	assert.ErrorIs(t, errs[0], limiter.ErrInvalidWeight)
	assert.ErrorIs(t, errs[1], limiter.ErrInvalidWeight)
	assert.ErrorIs(t, errs[2], limiter.ErrWeightTooLarge)
	assert.Panics(t, func() { l.Acquire(limiter.Request{Weight: 1}) })
}
