package limiter

import "math"

// Counter counts slots in use against a limit, or against no limit in its
// unlimited mode. It never blocks and does no locking: it is not safe for
// concurrent use, and is meant to be kept under the caller's own lock, where
// its methods are small enough to be inlined.
//
// The zero value is an unlimited Counter with no slots in use. [Counter.Init]
// or [Counter.SetLimit] gives it a limit; [Counter.SetUnlimited] takes the
// limit away again. In either mode [Counter.InUse] counts every slot taken.
type Counter struct {
	limit   int64 // meaningful only when limited
	inUse   int64
	limited bool
}

// Init resets c to the given limit with no slots in use. It returns
// [ErrInvalidLimit], leaving c unchanged, if limit is less than 1.
func (c *Counter) Init(limit int64) error {
	if limit < 1 {
		return ErrInvalidLimit
	}
	*c = Counter{limit: limit, limited: true}
	return nil
}

// SetLimit sets the limit, switching c to limited mode, and keeps the slots
// in use: if more are in use than the new limit, [Counter.Over] says by how
// many and nothing more fits until enough are put back. It returns
// [ErrInvalidLimit], leaving c unchanged, if limit is less than 1.
func (c *Counter) SetLimit(limit int64) error {
	if limit < 1 {
		return ErrInvalidLimit
	}
	c.limit, c.limited = limit, true
	return nil
}

// SetUnlimited switches c to unlimited mode, where every request fits. The
// slots in use are kept and still counted.
func (c *Counter) SetUnlimited() { c.limit, c.limited = 0, false }

// Unlimited reports whether c is in unlimited mode.
func (c *Counter) Unlimited() bool { return !c.limited }

// Limit returns the limit, or 0 in unlimited mode.
func (c *Counter) Limit() int64 { return c.limit }

// InUse returns the number of slots taken and not yet put back.
func (c *Counter) InUse() int64 { return c.inUse }

// Over returns how many slots in use are above the limit: more than zero only
// after [Counter.Force] or after [Counter.SetLimit] lowered the limit.
func (c *Counter) Over() int64 {
	if !c.limited || c.inUse <= c.limit {
		return 0
	}
	return c.inUse - c.limit
}

// Fits reports whether n more slots (n >= 0) fit under the limit. In
// unlimited mode it is true unless the count would overflow an int64.
func (c *Counter) Fits(n int64) bool {
	if !c.limited {
		return n <= math.MaxInt64-c.inUse
	}
	return n <= c.limit-c.inUse
}

// Take takes n slots that [Counter.Fits] has said fit. It panics if n is
// negative or the slots do not fit; use [Counter.Force] to go over the limit.
func (c *Counter) Take(n int64) {
	if n < 0 || !c.Fits(n) {
		panic("limiter: Counter.Take over the limit")
	}
	c.inUse += n
}

// Force takes n slots whether or not they fit, so that [Counter.InUse] may
// go above the limit; [Counter.Over] reports by how much. It panics if n is
// negative.
func (c *Counter) Force(n int64) {
	if n < 0 {
		panic("limiter: Counter.Force of a negative weight")
	}
	c.inUse += n
}

// Put gives back n slots taken by Take or Force. It panics if n is negative
// or more than are in use.
func (c *Counter) Put(n int64) {
	if uint64(n) > uint64(c.inUse) {
		panic("limiter: Counter.Put more than taken")
	}
	c.inUse -= n
}
