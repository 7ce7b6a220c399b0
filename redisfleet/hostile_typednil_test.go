package redisfleet

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
)

// A client variable declared and never set (var rdb *redis.Client) is a
// nil pointer inside a non-nil interface: New must refuse it with
// ErrInvalidArgument, as it does a nil interface, not panic on its first
// use of the client.
func TestNewRefusesATypedNilClient(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    redis.UniversalClient
	}{
		{"*redis.Client", (*redis.Client)(nil)},
		{"*redis.ClusterClient", (*redis.ClusterClient)(nil)},
		{"*redis.Ring", (*redis.Ring)(nil)},
	} {
		var l *Limit
		var err error
		assert.NotPanics(t, func() { l, err = New(tc.c, "x", 1) }, "New with a nil %s", tc.name)
		assert.ErrorIs(t, err, ErrInvalidArgument, "New with a nil %s", tc.name)
		assert.Nil(t, l, "New with a nil %s", tc.name)
	}
}
