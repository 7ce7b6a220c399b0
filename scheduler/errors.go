package scheduler

import (
	"errors"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
)

var (
	// ErrClosed is returned by submissions after Shutdown has begun; a task
	// submitted then is reported Canceled with ErrClosed as its error.
	ErrClosed = errors.New("scheduler: closed")
	// ErrQueueFull is returned by Submit and Enqueue when a bounded queue
	// (WithQueueLimit) is full.
	ErrQueueFull = errors.New("scheduler: queue full")
	// ErrNotQueued is returned by Promote and Force for a task that is not
	// waiting in this scheduler's queue (or is not Lazy, for Force).
	ErrNotQueued = errors.New("scheduler: task not queued here")
	// ErrForeignHandle is returned for a handle that lazytask did not make.
	ErrForeignHandle = errors.New("scheduler: handle not made by lazytask")

	// ErrInvalidLimit is returned for a cap below 1 (New, WithLimit,
	// Resize). Unlimited is an explicit option, not a magic number.
	ErrInvalidLimit = limiter.ErrInvalidLimit
	// ErrWeightTooLarge is returned when a task's weight is above the
	// scheduler's cap: such a task could never be admitted.
	ErrWeightTooLarge = limiter.ErrWeightTooLarge
	// ErrNilFunc is lazytask.ErrNilFunc, returned by Submit for a nil
	// function.
	ErrNilFunc = lazytask.ErrNilFunc
)
