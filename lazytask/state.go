package lazytask

import "github.com/lazysched/lazysched/internal/core"

// State is a task's place in its life cycle:
//
//	Lazy ──enqueue──▶ Queued ──admit──▶ Running ──▶ Succeeded | Failed | Canceled
//	  │ Start / force-run ────────────────▲
//	  └── Cancel (Lazy or Queued) ──▶ Canceled, and the function never runs
type State uint32

const (
	// Lazy is the state of a new task: nothing runs until it is started or
	// handed to a scheduler.
	Lazy = State(core.Lazy)
	// Queued: the task waits in a scheduler's queue for a slot.
	Queued = State(core.Queued)
	// Running: the task's function is running.
	Running = State(core.Running)
	// Succeeded: the function returned a nil error.
	Succeeded = State(core.Succeeded)
	// Failed: the function returned an error, panicked or called
	// runtime.Goexit, or the task was created with bad input. A function
	// that returns context.DeadlineExceeded after the task's own timeout
	// or deadline (WithTimeout, WithDeadline) fails too: the task ran out
	// of time, nobody canceled it.
	Failed = State(core.Failed)
	// Canceled: the task was canceled before it ran, or its function
	// returned its context's cancellation (Cancel, or its scope's cancel,
	// timeout or shutdown, or the end of a context it carries).
	Canceled = State(core.Canceled)
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case Lazy:
		return "lazy"
	case Queued:
		return "queued"
	case Running:
		return "running"
	case Succeeded:
		return "succeeded"
	case Failed:
		return "failed"
	case Canceled:
		return "canceled"
	}
	return "invalid"
}

// Terminal reports whether s is one of the three end states.
func (s State) Terminal() bool { return s == Succeeded || s == Failed || s == Canceled }
