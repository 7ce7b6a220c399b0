// Package check holds the invariant checks that the stress suite runs with
// the build tag lazysched_check. Without the tag Enabled is false and every
// call site, written as `if check.Enabled { ... }`, compiles to nothing.
package check

import "fmt"

// Violation is the panic value of a failed check.
type Violation struct{ Msg string }

func (v Violation) Error() string { return "lazysched invariant violated: " + v.Msg }

// That panics with a Violation if cond is false. Call it only under
// `if check.Enabled`.
func That(cond bool, format string, args ...any) {
	if !cond {
		panic(Violation{Msg: fmt.Sprintf(format, args...)})
	}
}
