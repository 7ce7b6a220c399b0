package redisfleet

import "errors"

// ErrInvalidArgument is returned (wrapped) by [New] for a nil client (a
// nil interface, or a nil *redis.Client in one), an empty name, or an
// option out of range. A limit below 1 is refused with
// [limiter.ErrInvalidLimit] instead.
var ErrInvalidArgument = errors.New("redisfleet: invalid argument")

// ErrClosed is given, wrapped, to the requests of a [Limit] that has been
// closed: to Granted for those still waiting or asked afterwards, and,
// wrapped with [limiter.ErrLeaseLost], to Lost for permits still held.
var ErrClosed = errors.New("redisfleet: limit closed")
