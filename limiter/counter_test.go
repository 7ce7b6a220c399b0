package limiter_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
)

func TestCounterZeroValueIsUnlimited(t *testing.T) {
	var c limiter.Counter
	assert.True(t, c.Unlimited(), "Unlimited()")
	assert.True(t, c.Fits(1<<40), "Fits(1<<40)")
	c.Take(1 << 40)
	assert.Equal(t, int64(1<<40), c.InUse(), "InUse() counts in unlimited mode")
	assert.Equal(t, int64(0), c.Over())
	assert.Equal(t, int64(0), c.Limit())
}

func TestCounterRejectsLimitBelowOne(t *testing.T) {
	var c limiter.Counter
	require.NoError(t, c.Init(3))
	c.Take(2)
	for _, limit := range []int64{0, -1} {
		if err := c.Init(limit); !errors.Is(err, limiter.ErrInvalidLimit) {
			t.Errorf("Init(%d) = %v; want ErrInvalidLimit", limit, err)
		}
		if err := c.SetLimit(limit); !errors.Is(err, limiter.ErrInvalidLimit) {
			t.Errorf("SetLimit(%d) = %v; want ErrInvalidLimit", limit, err)
		}
	}
	assert.Equal(t, int64(3), c.Limit(), "Limit() after failed calls")
	assert.Equal(t, int64(2), c.InUse(), "InUse() after failed calls")
}

func TestCounterScript(t *testing.T) {
	var c limiter.Counter
	require.NoError(t, c.Init(3))
	steps := []struct {
		do          func()
		what        string
		inUse, over int64
		fits1       bool
	}{
		{func() {}, "Init(3)", 0, 0, true},
		{func() { c.Take(2) }, "Take(2)", 2, 0, true},
		{func() { c.Take(1) }, "Take(1)", 3, 0, false},
		{func() { c.Force(2) }, "Force(2)", 5, 2, false},
		{func() { c.Put(1) }, "Put(1)", 4, 1, false},
		{func() { _ = c.SetLimit(6) }, "SetLimit(6)", 4, 0, true},
		{func() { _ = c.SetLimit(2) }, "SetLimit(2)", 4, 2, false},
		{func() { c.SetUnlimited() }, "SetUnlimited()", 4, 0, true},
		{func() { _ = c.SetLimit(4) }, "SetLimit(4)", 4, 0, false},
		{func() { c.Put(4) }, "Put(4)", 0, 0, true},
		{func() { c.Take(4) }, "Take(4)", 4, 0, false},
		{func() { _ = c.Init(1) }, "Init(1)", 0, 0, true},
	}
	for _, s := range steps {
		s.do()
		if got := c.InUse(); got != s.inUse {
			t.Errorf("after %s: InUse() = %d; want %d", s.what, got, s.inUse)
		}
		if got := c.Over(); got != s.over {
			t.Errorf("after %s: Over() = %d; want %d", s.what, got, s.over)
		}
		if got := c.Fits(1); got != s.fits1 {
			t.Errorf("after %s: Fits(1) = %v; want %v", s.what, got, s.fits1)
		}
	}
}

func TestCounterPanicsOnMisuse(t *testing.T) {
	var c limiter.Counter
	require.NoError(t, c.Init(2))
	c.Take(1)
	assert.Panics(t, func() { c.Take(2) }, "Take(2) with 1 of 2 in use")
	assert.Panics(t, func() { c.Take(-1) }, "Take(-1)")
	assert.Panics(t, func() { c.Force(-1) }, "Force(-1)")
	assert.Panics(t, func() { c.Put(2) }, "Put(2) with 1 in use")
	assert.Panics(t, func() { c.Put(-1) }, "Put(-1)")
	assert.Equal(t, int64(1), c.InUse(), "InUse() after panics")
}

func TestCounterFitsDoesntOverflow(t *testing.T) {
	var c limiter.Counter
	require.NoError(t, c.Init(2))
	c.Take(1)
	if c.Fits(1<<63 - 1) {
		t.Errorf("Fits(MaxInt64) = true; want false")
	}
}
