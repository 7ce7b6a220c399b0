package redisfleet

import (
	"fmt"
	"time"
)

// DefaultLease is the lease of a permit unless [WithLease] says otherwise.
const DefaultLease = 10 * time.Second

// minLease is the shortest lease WithLease takes.
const minLease = 50 * time.Millisecond

// Option configures a [Limit] made by [New].
type Option interface {
	apply(*config) error
}

type config struct {
	lease    time.Duration
	grace    time.Duration // below 0: the lease
	failFast bool
	hook     func(event) // tests only
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// WithLease sets how long a permit (and a waiting entry) lives in Redis
// without renewal: the time after which a dead process's permits return to
// the fleet. Renewals run every lease/3, and a permit is declared lost
// lease/5 before its lease could lapse. The lease must be at least 50ms
// ([ErrInvalidArgument]); the default is [DefaultLease].
func WithLease(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < minLease {
			return fmt.Errorf("%w: WithLease(%v), want at least %v", ErrInvalidArgument, d, minLease)
		}
		c.lease = d
		return nil
	})
}

// WithFailFast makes a request that cannot reach Redis fail at once: its
// Granted gets a nil permit and [limiter.ErrSharedUnavailable] wrapped with
// the reason, instead of waiting until Redis answers again.
func WithFailFast() Option {
	return optionFunc(func(c *config) error {
		c.failFast = true
		return nil
	})
}

// WithRestartGrace sets how long a fresh Redis (one that has no state for
// the limit: never used, or restarted without its keys) grants nothing, so
// that the holders of permits granted by the Redis before it can enter
// them again: they do so at their next renewal, at most lease/3 after
// Redis is back. Without it, a restart that lost the keys would let the
// fleet grant the whole limit again while the permits of before are still
// in use. The default is the lease, which every Limit of the name should
// share; the first request on a Redis that was never used waits that long
// too. 0 turns the grace off (for a Redis that keeps its keys across
// restarts, with AOF persistence): permits held at a restart that lost the
// keys are then lost. Limits of one name that ask for different graces
// get the longest, counted from when the Redis's state was made. Below 0
// is refused ([ErrInvalidArgument]).
//
// The grace guards against a restart that lost every key. A Redis that
// comes back with some of them (a replica promoted before it had the
// latest writes, an older snapshot, keys evicted under maxmemory) or a
// step of Redis's clock is not detected: grants made just before may be
// lost, and the fleet may then run over the limit until their leases end.
// Run the limit on a Redis with persistence and no eviction of its keys.
func WithRestartGrace(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: WithRestartGrace(%v), want 0 or more", ErrInvalidArgument, d)
		}
		c.grace = d
		return nil
	})
}
