package lazyprom

import "errors"

// ErrInvalidOption is returned (wrapped) by New for an option given a bad
// value: a namespace that is not a valid metric name prefix, or histogram
// buckets that are empty or not strictly increasing.
var ErrInvalidOption = errors.New("lazyprom: invalid option")
