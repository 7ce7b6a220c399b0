package lazyprom

// SetReleased sets the function told of each path whose series a
// Collector with WithForgetScopes deleted; nil stops it.
func SetReleased(f func(path string)) { released = f }
