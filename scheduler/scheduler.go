package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
)

// Scheduler runs tasks under a cap. Create it with New; the zero value is
// not usable, and a Scheduler must not be copied. All methods are safe for
// concurrent use.
type Scheduler struct {
	_    noCopy
	mu   sync.Mutex
	lim  limiter.Counter // slots of tasks admitted under the cap
	q    core.Queue
	root *Scope
	cfg  config
	wg   sync.WaitGroup // goroutines running tasks

	// under mu
	forced    int64 // slots of tasks force-run over the cap, running now
	overTasks int   // tasks force-run over the cap, running now
	running   int
	spinning  int // goroutines lingering for work (0 or 1)
	closed    bool
	escalated bool
	room      chan struct{} // closed when the queue shrinks (bounded queue waiters)
	idle      chan struct{} // closed when nothing is queued or running
	stats     counters
}

type counters struct {
	submitted, succeeded, failed, canceled, forceRuns, promoted uint64
}

type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// New returns a scheduler with the given options; the default cap is
// runtime.GOMAXPROCS(0). It returns an error wrapping ErrInvalidLimit for a
// cap or queue limit below 1. Nothing is started until a task is submitted.
func New(opts ...Option) (*Scheduler, error) {
	cfg := defaults()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	s := &Scheduler{cfg: cfg}
	if cfg.unlimited {
		s.lim.SetUnlimited()
	} else if err := s.lim.Init(cfg.limit); err != nil {
		return nil, err
	}
	s.root = newRoot(s)
	return s, nil
}

// Root returns the scheduler's root scope: every task runs in a scope, and
// tasks submitted to the scheduler itself run in this one.
func (s *Scheduler) Root() *Scope { return s.root }

func (s *Scheduler) target() *Scope { return s.root }

// Spawner is where tasks can be submitted: a *Scheduler (its root scope) or
// a *Scope.
type Spawner interface{ target() *Scope }

// Submit creates a task that runs fn in sp and queues it, without blocking.
// It returns the task's handle at once, Queued (or already Running if a
// slot was free).
//
// On bad input or refusal Submit returns a non-nil handle that has already
// ended, and the error: lazytask.ErrNilFunc or lazytask.ErrInvalidOption
// (the task is Failed), ErrWeightTooLarge (Failed), ErrClosed or
// ErrQueueFull (Canceled, with the error as its cause). The task never runs
// in these cases.
func Submit[T any](sp Spawner, fn func(ctx context.Context) (T, error), opts ...lazytask.Option) (*lazytask.Task[T], error) {
	t := lazytask.New(fn, opts...)
	c := core.Of(t)
	if core.IsDone(c) {
		return t, t.Err()
	}
	if err := sp.target().enqueue(c, true); err != nil {
		abandon(c, err)
		return t, err
	}
	return t, nil
}

// Go is Submit for a function with no result.
func Go(sp Spawner, fn func(ctx context.Context) error, opts ...lazytask.Option) (*lazytask.Task[struct{}], error) {
	if fn == nil {
		return Submit[struct{}](sp, nil, opts...)
	}
	return Submit(sp, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) }, opts...)
}

// SubmitWait is Submit for a scheduler with a bounded queue: when the queue
// is full it waits for room until ctx ends, and then returns
// context.Cause(ctx) with a handle Canceled with that cause. With an
// unbounded queue it is Submit.
func SubmitWait[T any](ctx context.Context, sp Spawner, fn func(ctx context.Context) (T, error), opts ...lazytask.Option) (*lazytask.Task[T], error) {
	t := lazytask.New(fn, opts...)
	c := core.Of(t)
	if core.IsDone(c) {
		return t, t.Err()
	}
	if err := sp.target().enqueueWait(ctx, c); err != nil {
		abandon(c, err)
		return t, err
	}
	return t, nil
}

// abandon ends a task that Submit created and could not queue, so that no
// handle is left Lazy forever.
func abandon(c *core.Task, err error) {
	if errors.Is(err, ErrClosed) || errors.Is(err, ErrQueueFull) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		core.CancelUnstarted(c, err)
		return
	}
	core.FailUnstarted(c, err)
}

// Enqueue hands a Lazy task to the root scope's queue; see Scope.Enqueue.
func (s *Scheduler) Enqueue(h lazytask.Handle) error { return s.root.Enqueue(h) }

// Force runs h now in the root scope, over the cap; see Scope.Force.
func (s *Scheduler) Force(h lazytask.Handle) error { return s.root.Force(h) }

func coreOf(h lazytask.Handle) (*core.Task, error) {
	if h == nil {
		return nil, ErrForeignHandle
	}
	c := core.Of(h)
	if c == nil {
		return nil, ErrForeignHandle
	}
	return c, nil
}

// Promote moves a Queued task to the head of the queue, ahead of every
// queued task whatever its priority; several promoted tasks keep their
// promote order. It returns ErrNotQueued if h is not queued in this
// scheduler.
func (s *Scheduler) Promote(h lazytask.Handle) error {
	c, err := coreOf(h)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if core.StateOf(c) != core.Queued || !s.owns(c) {
		s.mu.Unlock()
		return fmt.Errorf("%w: task is %v", ErrNotQueued, h.State())
	}
	s.q.Promote(c)
	s.stats.promoted++
	s.admitAllLocked()
	s.mu.Unlock()
	return nil
}

// Resize changes the cap at run time. Raising it admits waiting tasks at
// once; lowering it lets running tasks finish and admits nothing until the
// slots in use are below the new cap. It returns ErrInvalidLimit below 1.
func (s *Scheduler) Resize(n int) error {
	if n < 1 {
		return fmt.Errorf("%w: %d", ErrInvalidLimit, n)
	}
	s.mu.Lock()
	_ = s.lim.SetLimit(int64(n))
	s.admitAllLocked()
	s.mu.Unlock()
	return nil
}

// Stats are a scheduler's counters at one moment.
type Stats struct {
	// Limit is the cap (0 when Unlimited is true).
	Limit     int
	Unlimited bool
	// InUse is the number of slots taken by tasks admitted under the cap.
	InUse int
	// Queued and Running count tasks waiting and running now; Running
	// includes the OverCap tasks.
	Queued, Running int
	// OverCap is the number of tasks force-run over the cap, running now,
	// and OverCapSlots their slots.
	OverCap, OverCapSlots int
	// Totals since New.
	Submitted, Succeeded, Failed, Canceled, ForceRuns, Promoted uint64
}

// Stats returns the scheduler's counters.
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Limit: int(s.lim.Limit()), Unlimited: s.lim.Unlimited(), InUse: int(s.lim.InUse()),
		Queued: s.q.Len(), Running: s.running, OverCap: s.overTasks, OverCapSlots: int(s.forced),
		Submitted: s.stats.submitted, Succeeded: s.stats.succeeded, Failed: s.stats.failed,
		Canceled: s.stats.canceled, ForceRuns: s.stats.forceRuns, Promoted: s.stats.promoted,
	}
}

func (s *Scheduler) logger() *slog.Logger { return s.cfg.logger }
