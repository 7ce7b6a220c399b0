package limiter_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
)

// Grants made by one call (a Release that frees room for several waiters)
// are delivered in a loop on that caller's goroutine. A Granted that
// panicked ended the loop: the waiters granted after it were never told,
// their slots stayed counted in InUse for ever (the cap shrank for good,
// and their tasks waited for ever), and the panic reached the caller of
// Release, whose own request it was not. As redisfleet's Limit does, Local
// now recovers and logs such a panic, releases the permit that nobody can
// be trusted to hold, and delivers the rest.
func TestHostileLocalGrantedThatPanicsLosesNoOtherGrant(t *testing.T) {
	l, err := limiter.NewLocal(2)
	require.NoError(t, err)
	var held limiter.Permit
	l.Acquire(limiter.Request{Weight: 2, Granted: func(p limiter.Permit, err error) { held = p }})
	require.NotNil(t, held, "the first request fits at once")

	l.Acquire(limiter.Request{Weight: 1, Granted: func(limiter.Permit, error) { panic("a broken Granted") }})
	got := make(chan limiter.Permit, 1)
	l.Acquire(limiter.Request{Weight: 1, Granted: func(p limiter.Permit, err error) {
		assert.NoError(t, err)
		got <- p
	}})
	require.Equal(t, 2, l.Waiting(), "both wait behind the holder")

	assert.NotPanics(t, held.Release, "Release of a permit whose holder did nothing wrong")
	select {
	case p := <-got:
		require.NotNil(t, p, "the request granted after the panicking one")
		assert.Equal(t, int64(1), l.InUse(), "InUse: the good permit alone; the panicking one's given back")
		p.Release()
	default:
		t.Fatal("the request granted in the same batch as the panicking one was never told")
	}
	assert.Zero(t, l.InUse(), "InUse once every permit is back")
	assert.Zero(t, l.Waiting(), "Waiting")
}
