package scheduler

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
)

var (
	// ErrClosed is returned by submissions after Shutdown has begun; a task
	// submitted then is reported Canceled with ErrClosed as its error. It is
	// also the cause given to the tasks that Shutdown cancels, and what a
	// second Shutdown returns.
	ErrClosed = errors.New("scheduler: closed")
	// ErrScopeCanceled is returned (wrapped with the scope's cause) by
	// submissions to a canceled scope; the task is reported Canceled and
	// never runs.
	ErrScopeCanceled = errors.New("scheduler: scope canceled")
	// ErrQueueFull is returned by Submit and Enqueue when a bounded queue
	// (WithQueueLimit) is full.
	ErrQueueFull = errors.New("scheduler: queue full")
	// ErrNotQueued is returned by Promote and Force for a task that is not
	// waiting in this scheduler's queue (or not Lazy, for Force and
	// Enqueue).
	ErrNotQueued = errors.New("scheduler: task not queued here")
	// ErrForeignHandle is returned for a nil handle (also a typed nil
	// *lazytask.Task), a zero lazytask.Task, or one bound to another
	// scheduler.
	ErrForeignHandle = errors.New("scheduler: handle not usable here")
	// ErrNilScope is returned by Submit, Go and SubmitWait (and is the
	// error of NewTask's task) for a nil Spawner, *Scheduler or *Scope, and
	// for a zero Scheduler or Scope (not made by New or NewScope). Methods
	// called on a nil or zero *Scheduler or *Scope panic with a message that
	// names it.
	ErrNilScope = errors.New("scheduler: nil scheduler or scope")
	// ErrInvalidOption wraps errors of options given bad values. It is
	// lazytask.ErrInvalidOption: one sentinel for every option of the
	// module.
	ErrInvalidOption = lazytask.ErrInvalidOption

	// ErrInvalidLimit is returned for a cap below 1 (New, WithLimit,
	// Resize). Unlimited is an explicit option, not a magic number.
	ErrInvalidLimit = limiter.ErrInvalidLimit
	// ErrWeightTooLarge is returned when a task's weight is above a cap on
	// its path: such a task could never be admitted.
	ErrWeightTooLarge = limiter.ErrWeightTooLarge
	// ErrNilFunc is lazytask.ErrNilFunc, returned by Submit for a nil
	// function.
	ErrNilFunc = lazytask.ErrNilFunc
)

// ScopeError is how a failed child scope reports to its parent: one error,
// under the parent's policy.
type ScopeError struct {
	// Scope is the name of the child scope.
	Scope string
	// Err is the child's error (the first task error of a fail-fast scope).
	Err error
}

// Error names the scope and its error.
func (e *ScopeError) Error() string { return fmt.Sprintf("scope %q: %v", e.Scope, e.Err) }

// Unwrap returns the child's error.
func (e *ScopeError) Unwrap() error { return e.Err }

// LogValue makes a log line of the child's failure as short as that of a
// task's: the scope's name, and the child's error as its own LogValue
// gives it (a panic's value and the frame that panicked, not its stack,
// which errors.As still finds).
func (e *ScopeError) LogValue() slog.Value {
	return slog.GroupValue(slog.String("scope", e.Scope), slog.Any("err", e.Err))
}

// errHandingOver is Enqueue's refusal of a task whose create or queue hooks
// run before another handoff.
var errHandingOver = fmt.Errorf("%w: %w", ErrNotQueued, lazytask.ErrHandingOver)
