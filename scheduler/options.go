package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
)

// An Option configures a Scheduler (New) or a Scope (NewScope): for a
// Scheduler it configures the root scope. Every Option is also a
// SchedulerOption.
type Option interface {
	SchedulerOption
	scopeOption()
}

// A SchedulerOption configures a Scheduler: New, Main and factory/pondexec's
// New take them. The options that make sense only for a whole scheduler
// (Unlimited, WithQueueLimit, WithLogger, WithExecutor, WithAging,
// WithClock) are
// SchedulerOptions and not Options, so that NewScope refuses them at
// compile time.
type SchedulerOption interface{ apply(*config) error }

type config struct {
	// both
	name      string
	limit     int64
	unlimited bool
	limitSet  bool
	policy    policy
	handler   func(lazytask.Info, error)
	hooks     []Hooks
	timeout   time.Duration
	deadline  time.Time
	noRecover bool
	shared    limiter.Shared

	// scheduler only
	base        context.Context
	pprofLabels bool
	exec        func(run func())                  // WithExecutor
	yexec       func(run func(yield func() bool)) // WithYieldingExecutor
	aging       time.Duration
	queueLimit  int
	logger      *slog.Logger
	clock       Clock // nil: the runtime's clock
	timings     bool
}

func defaults() config {
	return config{limit: int64(runtime.GOMAXPROCS(0)), logger: slog.Default(), policy: supervise}
}

// optionFunc is an Option, schedOption a SchedulerOption only.
type (
	optionFunc  func(*config) error
	schedOption func(*config) error
)

func (f optionFunc) apply(c *config) error  { return f(c) }
func (optionFunc) scopeOption()             {}
func (f schedOption) apply(c *config) error { return f(c) }

// WithLimit sets the cap: the number of slots that running tasks may take
// together. n must be at least 1 (ErrInvalidLimit). For a Scheduler the
// default is runtime.GOMAXPROCS(0). For a Scope the cap nests inside its
// ancestors' (say 64 overall and at most 4 per host): a task takes a slot
// at every capped scope from its own up to the root. A scope has no cap of
// its own by default.
func WithLimit(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: %d", ErrInvalidLimit, n)
		}
		c.limit, c.unlimited, c.limitSet = int64(n), false, true
		return nil
	})
}

// Unlimited removes the scheduler's cap: every task is admitted at once.
// Priorities, force-run and promote then have nothing to order. Unlimited
// is explicit: there is no magic cap value meaning "none". A SchedulerOption.
func Unlimited() SchedulerOption {
	return schedOption(func(c *config) error {
		c.unlimited = true
		return nil
	})
}

// WithBaseContext makes ctx the parent of the root scope's context, as
// http.Server's BaseContext is of its requests': ctx's values reach every
// task of the scheduler (behind each scope's and task's own), and its
// cancellation cancels the whole tree with context.Cause(ctx) (queued tasks
// end Canceled without running, running ones see their context canceled,
// later submissions are refused with ErrScopeCanceled). The default is
// context.Background(). A SchedulerOption.
func WithBaseContext(ctx context.Context) SchedulerOption {
	return schedOption(func(c *config) error {
		if ctx == nil {
			return fmt.Errorf("%w: nil base context", ErrInvalidOption)
		}
		c.base = ctx
		return nil
	})
}

// WithPprofLabels runs every task's function under pprof labels
// "lazysched.task" (its name) and "lazysched.scope" (its scope's name), so
// that a CPU profile can be filtered by task or scope (go tool pprof
// -tagfocus lazysched.scope=crawl). The labels are on the task's context
// too (pprof.Label). Off by default: it costs a context and a labels
// allocation per task. A task's labels end with it: the goroutine that ran
// it is left with none. Under WithExecutor that goroutine is the
// executor's, and runtime/pprof gives no way to read its labels back: an
// executor that labels its goroutines sets them again after each run.
// A SchedulerOption.
func WithPprofLabels() SchedulerOption {
	return schedOption(func(c *config) error { c.pprofLabels = true; return nil })
}

// WithQueueLimit bounds the queue to n waiting tasks: Submit and Enqueue
// then return ErrQueueFull, and SubmitWait waits for room. n must be at
// least 1; the default is an unbounded queue. A SchedulerOption.
func WithQueueLimit(n int) SchedulerOption {
	return schedOption(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: queue limit %d", ErrInvalidLimit, n)
		}
		c.queueLimit = n
		return nil
	})
}

// WithLogger sets the logger of the default supervisor handler and of
// panics in hooks and done callbacks. The default is slog.Default().
// The logger's handler is user code, as a hook is: a panic in it loses that
// line and nothing else, and if it calls runtime.Goexit, the goroutine
// exits as asked and what it had left to do goes on on another. A handler
// that blocks holds the goroutine that logs (a task's end, a hook's).
// A SchedulerOption.
func WithLogger(l *slog.Logger) SchedulerOption {
	return schedOption(func(c *config) error {
		if l != nil {
			c.logger = l
		}
		return nil
	})
}

// WithName names a scope (the root scope is named "root" unless told
// otherwise); names show in snapshots, errors and logs.
func WithName(name string) Option {
	return optionFunc(func(c *config) error { c.name = name; return nil })
}

// FailFast makes the scope a fail-fast group: the first task error cancels
// the scope (its queued tasks end Canceled, running ones see their context
// canceled with that error as the cause), and Wait returns every real error
// joined; the cancellations the failure caused are not reported as errors.
func FailFast() Option {
	return optionFunc(func(c *config) error { c.policy, c.handler = failFast, nil; return nil })
}

// Supervise makes the scope a supervisor: each task error goes to handler,
// siblings go on, and the scope keeps no errors, so a long-lived supervisor
// does not grow. A nil handler logs the error with the scheduler's logger
// (log/slog). This is the default policy of every scope, the root included.
// A failed fail-fast child scope reaches handler once, as a failed task of
// the supervisor's: info.Name is the child's name, info.Scope the
// supervisor's, and err a *ScopeError.
func Supervise(handler func(info lazytask.Info, err error)) Option {
	return optionFunc(func(c *config) error { c.policy, c.handler = supervise, handler; return nil })
}

// WithTimeout bounds the scope's life: when d has passed since the scope was
// made, its context is canceled with context.DeadlineExceeded, and with it
// every task of its subtree. d must be positive.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: timeout %v", ErrInvalidOption, d)
		}
		c.timeout = d
		return nil
	})
}

// WithDeadline bounds the scope's life by a point in time; see WithTimeout.
func WithDeadline(t time.Time) Option {
	return optionFunc(func(c *config) error { c.deadline = t; return nil })
}

// WithHooks registers lifecycle hooks on the scope; its child scopes inherit
// them. Several WithHooks options (one per tracker) accumulate.
func WithHooks(h Hooks) Option {
	return optionFunc(func(c *config) error { c.hooks = append(c.hooks, h); return nil })
}

// WithoutPanicRecovery lets a panic in a task of the scope crash the
// program, as a panic in a plain goroutine would, instead of ending the
// task Failed with a *lazytask.PanicError. Child scopes inherit it. With
// WithExecutor, whose goroutines may recover panics, the task ends Failed
// with the *lazytask.PanicError before the panic goes on, so that an
// executor that recovers it leaves no task Running and no slot taken.
//
// The default recovers: x/sync's errgroup does not, so that a crash points
// straight at the bug; a scheduler that runs millions of independent jobs
// cannot let one of them take the program down, and hands the panic, with
// its stack, to whoever awaits the task. Choose this option where a panic
// must stop the program.
func WithoutPanicRecovery() Option {
	return optionFunc(func(c *config) error { c.noRecover = true; return nil })
}

// WithExecutor makes the scheduler run admitted tasks by calling exec with
// a function that runs them, instead of starting goroutines of its own: an
// existing worker pool can then run them (factory/pondexec does this for a
// pond pool). exec must run the function exactly once, soon, and must not
// block: it is called with the scheduler's lock held. Handles, hooks,
// policies and the cap are unchanged. A nil exec makes New fail with
// ErrInvalidOption. A SchedulerOption.
func WithExecutor(exec func(run func())) SchedulerOption {
	return schedOption(func(c *config) error {
		if exec == nil {
			return fmt.Errorf("%w: nil executor", ErrInvalidOption)
		}
		c.exec, c.yexec = exec, nil
		return nil
	})
}

// WithYieldingExecutor is WithExecutor for a pool that has users of its
// own, or that may be stopped while the scheduler still has work: a
// goroutine of the pool that runs a task would otherwise go on with the
// tasks the scheduler chains onto it (the next queued task, taken as the
// last one ends) for as long as there are any, keeping the pool's worker
// from the pool.
//
// exec is called with a function run to run exactly once, as WithExecutor's
// is; exec calls run(yield), where yield (nil: never) reports whether the
// pool wants the goroutine back. After each task, before it goes on with
// the next one, the goroutine asks yield; if yield reports true, it hands
// that task back to exec, to be run as a new function, and returns: the
// pool's own users queued meanwhile, or its Stop, get their worker back,
// and the task runs wherever exec puts it then (factory/pondexec: the back
// of the pool's queue, or a goroutine of its own once the pool is full or
// stopped). yield is called once per task: it must be cheap, must not
// block and must not call the scheduler. A nil exec makes New fail with
// ErrInvalidOption. A SchedulerOption.
func WithYieldingExecutor(exec func(run func(yield func() bool))) SchedulerOption {
	return schedOption(func(c *config) error {
		if exec == nil {
			return fmt.Errorf("%w: nil executor", ErrInvalidOption)
		}
		c.exec, c.yexec = nil, exec
		return nil
	})
}

// executor reports whether an executor (WithExecutor, WithYieldingExecutor)
// runs the admitted tasks, not goroutines of the scheduler's own.
func (c *config) executor() bool { return c.exec != nil || c.yexec != nil }

// WithTimings makes every task of the scheduler keep its timings: when it
// was created, queued, started and finished (lazytask.Task.Timings, the
// Timings of lazytask.Info, the ages of Snapshot). Without it a task keeps
// them only if it asked (lazytask.WithTimings, or a timeout), if its scope
// or one above has hooks that ask for them (Hooks.Timings) when it is made
// or handed over, or if the scheduler has a clock (WithClock) or ages priorities
// (WithAging); other tasks read no clock, and their Timings are zero. It
// costs up to four clock reads and one allocation per task. A
// SchedulerOption.
func WithTimings() SchedulerOption {
	return schedOption(func(c *config) error {
		c.timings = true
		return nil
	})
}

// WithAging makes waiting tasks gain one priority level for every step they
// wait, so that a steady stream of high-priority work cannot starve low
// priorities forever. Promoted tasks still come first; FIFO still breaks
// ties. step must be positive. Without it (the default) priorities are
// strict. Aging orders the scheduler's own admission: the line of a shared
// limit (WithSharedLimit: limiter.Local, a fleet's) orders requests by the
// priority a task had when it asked, so across scopes that share one, and
// across a fleet, an aged task can still wait behind fresher work of a
// higher priority. A SchedulerOption.
func WithAging(step time.Duration) SchedulerOption {
	return schedOption(func(c *config) error {
		if step <= 0 {
			return fmt.Errorf("%w: aging step %v", ErrInvalidOption, step)
		}
		c.aging = step
		return nil
	})
}
