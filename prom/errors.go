package lazyprom

import "errors"

// ErrInvalidOption is returned (wrapped) by New for an option given a bad
// value: a namespace that is not a valid metric name prefix, histogram
// buckets that are empty or not strictly increasing, or a constant label
// that a registry would refuse or that the metrics use (WithConstLabels).
var ErrInvalidOption = errors.New("lazyprom: invalid option")
