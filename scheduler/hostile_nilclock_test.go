package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

// rawNilClock is a Clock whose methods read their receiver, as every real
// clock's do.
type rawNilClock struct{ t time.Time }

func (c *rawNilClock) Now() time.Time { return c.t }
func (c *rawNilClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// A nil *clock.Mock (declared, never made with clock.NewMock) is a nil
// clock to its writer, but ClockOf wrapped it and WithClock took it (both
// look at the interface, not at the pointer in it): New returned a
// scheduler whose first Submit panicked with a nil dereference, far from
// the mistake. ClockOf now gives a nil Clock for it, and WithClock refuses
// a nil pointer in its Clock too, with ErrInvalidOption, as for nil.
func TestHostileWithClockRefusesATypedNilClock(t *testing.T) {
	var mock *clock.Mock // the mistake: clock.NewMock() never called
	assert.Nil(t, scheduler.ClockOf(mock), "ClockOf(nil *clock.Mock)")
	for name, c := range map[string]scheduler.Clock{
		"ClockOf(nil *clock.Mock)": scheduler.ClockOf(mock),
		"a nil *T Clock":           (*rawNilClock)(nil),
	} {
		s, err := scheduler.New(scheduler.WithClock(c))
		if !assert.ErrorIs(t, err, scheduler.ErrInvalidOption, "New(WithClock(%s))", name) {
			assert.NotPanics(t, func() {
				_, _ = scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
			}, "Submit to the scheduler New made with %s", name)
			require.NoError(t, s.Shutdown(context.Background()))
		}
	}
}
