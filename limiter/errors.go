package limiter

import "errors"

// ErrInvalidLimit is returned when a limit below 1 is asked for.
var ErrInvalidLimit = errors.New("limiter: limit must be at least 1")

// ErrWeightTooLarge is returned by [Weighted.Acquire] when it asks for more
// slots than the limit allows, so that it could never be admitted: at once,
// or while it waits if [Weighted.Resize] lowers the limit below its weight.
var ErrWeightTooLarge = errors.New("limiter: weight exceeds the limit")

// ErrInvalidWeight is returned when fewer than 1 slot is asked for.
var ErrInvalidWeight = errors.New("limiter: weight must be at least 1")
