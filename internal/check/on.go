//go:build lazysched_check

package check

// Enabled reports whether the invariant checks are compiled in.
const Enabled = true
