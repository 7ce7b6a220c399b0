package redisfleet

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lazysched/lazysched/limiter"
)

// A nil or zero Limit panics at once, naming the mistake: before, Close
// closed a nil channel with the Limit's mutex held, so a Stats after it
// blocked for ever, and Fleet dereferenced a nil client.
func TestNilOrZeroLimitPanicsNamingIt(t *testing.T) {
	const want = "redisfleet: method called on a nil or zero *Limit (make one with New)"
	req := limiter.Request{Weight: 1, Granted: func(limiter.Permit, error) {}}
	for name, l := range map[string]*Limit{"nil": nil, "zero": new(Limit)} {
		assert.PanicsWithValue(t, want, func() { _ = l.Close() }, "%s Limit: Close", name)
		assert.PanicsWithValue(t, want, func() { l.Stats() }, "%s Limit: Stats", name)
		assert.PanicsWithValue(t, want, func() { l.Acquire(req) }, "%s Limit: Acquire", name)
		assert.PanicsWithValue(t, want, func() { _, _ = l.Fleet(context.Background()) }, "%s Limit: Fleet", name)
		assert.PanicsWithValue(t, want, func() { _, _, _ = l.InUse(context.Background()) }, "%s Limit: InUse", name)
	}
}
