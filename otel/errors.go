package lazyotel

import "errors"

// ErrNilProvider is returned (wrapped) by New when WithTracerProvider or
// WithMeterProvider is given a nil provider.
var ErrNilProvider = errors.New("lazyotel: nil provider")
