package factory

import "errors"

var (
	// ErrNotNeeded is the cause given to the tasks a combinator cancels
	// because their result is no longer wanted: Race's losers, and the
	// tasks AsCompleted leaves behind when its loop breaks early.
	ErrNotNeeded = errors.New("factory: result no longer needed")
	// ErrNoFuncs is returned by Race called with no function: there is no
	// winner to return.
	ErrNoFuncs = errors.New("factory: no functions")
)

// ErrGraceExpired is the cause given to the grace period of Serve and
// ServeHTTP: they return it when the handlers did not all finish in time
// and the stragglers were canceled.
var ErrGraceExpired = errors.New("factory: grace period over")
