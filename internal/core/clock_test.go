package core

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mockClock adapts benbjohnson/clock's mock to Clock, as the scheduler's
// ClockOf does.
type mockClock struct{ m *clock.Mock }

func (k mockClock) Now() time.Time { return k.m.Now() }
func (k mockClock) AfterFunc(d time.Duration, f func()) func() bool {
	return k.m.AfterFunc(d, f).Stop
}

func newMockBase(t *testing.T) (*Timebase, *clock.Mock) {
	t.Helper()
	m := clock.NewMock()
	m.Set(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	return NewTimebase(mockClock{m}), m
}

func TestTimebaseUnits(t *testing.T) {
	tb, m := newMockBase(t)
	t0 := m.Now()
	ns0 := tb.Now()
	assert.True(t, At(ns0).Equal(t0), "At(tb.Now()) = %v; want the mock's %v", At(ns0), t0)
	m.Add(time.Second)
	assert.Equal(t, int64(time.Second), tb.Now()-ns0, "a second of the mock is a second of units")
	assert.True(t, At(0).IsZero(), "At(0) is the zero time")

	// The mock's default start, 1970, is in range; far ends are clamped.
	m.Set(time.Unix(0, 0))
	assert.True(t, At(tb.Now()).Equal(time.Unix(0, 0)), "At(tb.Now()) = %v at the Unix epoch", At(tb.Now()))
	m.Set(time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC))
	assert.Equal(t, int64(1), tb.Now(), "a time before the range reads as its start")
	m.Set(time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC))
	assert.Equal(t, int64(maxUnits), tb.Now(), "a time after the range reads as its end")

	rt := Now()
	assert.WithinDuration(t, time.Now(), At(rt), time.Minute, "the runtime's clock and a Timebase share At")

	var nilTB *Timebase
	assert.Positive(t, nilTB.Now(), "a nil Timebase is the runtime's clock")
	assert.WithinDuration(t, time.Now(), nilTB.Time(), time.Minute)
}

func TestTimebaseAfterFuncAtOnce(t *testing.T) {
	tb, _ := newMockBase(t)
	fired := make(chan struct{})
	tb.AfterFunc(0, func() { close(fired) })
	<-fired // without moving the mock
	// stop races with the call: exactly one of them wins.
	calls := make(chan struct{}, 1)
	stop := tb.AfterFunc(-time.Second, func() { calls <- struct{}{} })
	if !stop() {
		<-calls // stop lost: the call ran
	}
	assert.False(t, stop(), "a second stop reports false")
	ran := make(chan struct{})
	stop2 := tb.AfterFunc(0, func() { close(ran) })
	<-ran
	assert.False(t, stop2(), "stop after the call reports false")
}

func TestWithClockDeadline(t *testing.T) {
	tb, m := newMockBase(t)
	t0 := m.Now()
	ctx, cancel := WithClockDeadline(context.Background(), tb, t0.Add(time.Minute))
	defer cancel(nil)
	d, ok := ctx.Deadline()
	require.True(t, ok)
	assert.True(t, d.Equal(t0.Add(time.Minute)), "Deadline %v", d)
	assert.Nil(t, context.Cause(ctx), "no cause while live")
	child, stopChild := context.WithCancel(ctx)
	defer stopChild()
	after := make(chan struct{})
	context.AfterFunc(ctx, func() { close(after) })

	m.Add(59 * time.Second)
	require.NoError(t, ctx.Err(), "expired before its deadline on the mock")
	m.Add(time.Second)
	<-child.Done()
	<-after
	assert.Equal(t, context.DeadlineExceeded, ctx.Err())
	assert.Equal(t, context.DeadlineExceeded, context.Cause(ctx))
	assert.Equal(t, context.DeadlineExceeded, child.Err(), "a derived context reads the expiry")
	assert.Equal(t, context.DeadlineExceeded, context.Cause(child))
}

func TestWithClockDeadlineParentAndCause(t *testing.T) {
	tb, m := newMockBase(t)
	pd := time.Now().Add(time.Hour) // on the runtime's clock, after t0
	parent, stopParent := context.WithDeadline(context.Background(), pd)
	defer stopParent()
	ctx, cancel := WithClockDeadline(parent, tb, pd.Add(time.Hour))
	d, _ := ctx.Deadline()
	assert.True(t, d.Equal(pd), "the parent's earlier deadline wins: %v", d)
	boom := errors.New("boom")
	cancel(boom)
	<-ctx.Done()
	assert.Equal(t, context.Canceled, ctx.Err(), "canceled, not expired")
	assert.Equal(t, boom, context.Cause(ctx))
	m.Set(pd.Add(2 * time.Hour)) // the disarmed timer does nothing
	assert.Equal(t, context.Canceled, ctx.Err())

	past, cancelPast := WithClockDeadline(context.Background(), tb, m.Now().Add(-time.Second))
	defer cancelPast(nil)
	<-past.Done()
	assert.Equal(t, context.DeadlineExceeded, past.Err(), "a deadline already past")
}
