package lazytask

import "github.com/lazysched/lazysched/internal/core"

var (
	// ErrNotDone is returned by Result and Err before the task has ended.
	ErrNotDone = core.ErrNotDone
	// ErrNilFunc is the error of a task created with a nil function: New
	// returns it already Failed.
	ErrNilFunc = core.ErrNilFunc
	// ErrStarted is returned by Start for a task that is already running or
	// has ended.
	ErrStarted = core.ErrStarted
	// ErrGoexit is the error of a task whose function called
	// runtime.Goexit.
	ErrGoexit = core.ErrGoexit
	// ErrInvalidOption wraps the error of a task created with an invalid
	// option (a weight below 1, a negative timeout, a priority out of the
	// int32 range); New returns such a task already Failed.
	ErrInvalidOption = core.ErrInvalidOption
	// ErrScopeClosed is the cause given to a task that was created for a
	// scope but never started before the scope closed.
	ErrScopeClosed = core.ErrScopeClosed
	// ErrHandingOver is returned by Start for a task that a scheduler's
	// OnCreate or OnQueue hooks see, from then until the handoff that they
	// fire for (Submit, NewTask, Enqueue): the scheduler is taking the task,
	// so it cannot start on a goroutine of its own. A scheduler's Force
	// runs it now in the scheduler, and its Enqueue returns this error too
	// (it wraps scheduler.ErrNotQueued there).
	ErrHandingOver = core.ErrHandingOver
	// ErrCallbackGoexit is what a scheduler logs (and reports for done
	// callbacks) when a done callback, hook or error handler calls
	// runtime.Goexit: that goroutine exits as asked, and the callbacks and
	// hooks after it still run, once each, on another goroutine.
	ErrCallbackGoexit = core.ErrCallbackGoexit
)

// PanicError is the error of a task whose function panicked: it carries the
// panic value and the stack at the time of the panic, and unwraps to the
// value when the value is an error.
type PanicError = core.PanicError
