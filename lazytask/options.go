package lazytask

import (
	"context"
	"fmt"
	"maps"
	"math"
	"time"
)

// Options are a task's settings, fixed at creation and readable from the
// handle. The zero value is a task with no name, priority 0, weight 1, no
// timeout and no labels.
type Options struct {
	// Name identifies the task in logs, hooks and snapshots.
	Name string
	// Priority orders the scheduler's queue: higher first, FIFO among
	// equals.
	Priority int
	// Weight is the number of slots of the cap the task takes while it
	// runs; at least 1.
	Weight int
	// Timeout bounds the run, counted from the moment the task starts (not
	// from creation); 0 means none.
	Timeout time.Duration
	// Deadline bounds the run by a point in time; the zero time means none.
	Deadline time.Time
	// Labels are key-value metadata for hooks and snapshots.
	Labels map[string]string
	// KeepTimings asks for the task's timings (Task.Timings): when it was
	// created, queued, started and finished. Without it a task reads no
	// clock and its Timings are zero, unless its scheduler keeps timings
	// (scheduler.WithTimings, hooks, a clock, aging) or it has a timeout.
	KeepTimings bool

	ctx     context.Context // WithContext, WithValues
	cancels bool            // WithContext: ctx's cancellation cancels the task
	err     error           // set by an option given a bad value
}

// Context returns the context the task carries (WithContext, WithValues),
// or nil.
func (o Options) Context() context.Context { return o.ctx }

// An Option sets one of a task's Options at creation.
type Option interface{ apply(*Options) }

type optionFunc func(*Options)

func (f optionFunc) apply(o *Options) { f(o) }

// WithName names the task.
func WithName(name string) Option { return optionFunc(func(o *Options) { o.Name = name }) }

// WithPriority sets the task's priority: higher runs first.
func WithPriority(p int) Option {
	return optionFunc(func(o *Options) {
		o.Priority = p
		if (p < math.MinInt32 || p > math.MaxInt32) && o.err == nil {
			o.err = fmt.Errorf("%w: priority %d out of the int32 range", ErrInvalidOption, p)
		}
	})
}

// WithWeight sets the number of slots the task takes; n must be at least 1.
func WithWeight(n int) Option {
	return optionFunc(func(o *Options) {
		o.Weight = n
		if n < 1 && o.err == nil {
			o.err = fmt.Errorf("%w: weight %d is below 1", ErrInvalidOption, n)
		}
	})
}

// WithTimeout bounds the task's run, counted from its start; d must not be
// negative (0 means none). When it passes, the task's context is canceled
// with context.DeadlineExceeded; a function that returns that error then
// ends the task Failed, not Canceled (see Failed).
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(o *Options) {
		o.Timeout = d
		if d < 0 && o.err == nil {
			o.err = fmt.Errorf("%w: negative timeout %v", ErrInvalidOption, d)
		}
	})
}

// WithTimings makes the task keep its timings (Options.KeepTimings).
func WithTimings() Option { return optionFunc(func(o *Options) { o.KeepTimings = true }) }

// WithDeadline bounds the task's run by a point in time. In a scheduler
// with a clock of its own (scheduler.WithClock) t is a time on that clock.
// A task still waiting in a scheduler's queue at t ends then, Failed with
// context.DeadlineExceeded, without running (its scope's policy sees the
// error, as for a task that ran out of time); one started after t ends so
// at once.
func WithDeadline(t time.Time) Option { return optionFunc(func(o *Options) { o.Deadline = t }) }

// WithLabel adds one label; several WithLabel options accumulate.
func WithLabel(key, value string) Option {
	return optionFunc(func(o *Options) {
		if o.Labels == nil {
			o.Labels = make(map[string]string)
		}
		o.Labels[key] = value
	})
}

// WithContext makes the task carry ctx, the context of the code that makes
// it (a request handler's, say): ctx's values reach the task's context
// (before its scope's), so a trace span or request id follows the task, and
// ctx's cancellation cancels the task: a Lazy or Queued task then ends
// Canceled without running, and a running one sees its context done with
// ctx's error (context.DeadlineExceeded once ctx's deadline passed) and
// context.Cause(ctx); if it returns them, it ends Canceled. A ctx that is
// canceled already makes a task that New returns Canceled (Submit and
// NewTask refuse it with context.Cause(ctx)). The task's context reports
// ctx's deadline too. A nil ctx carries nothing.
//
// The watch on ctx does not keep the task alive: a Lazy task that nobody
// holds, awaits or has a callback on is collected even while ctx lives
// (a base context's, say), and its watch ends with it. Once its Done
// channel or a callback is out, the watch holds it until it ends; an
// Await whose own context ends first, or a factory.Completed loop that
// stops, takes back what it put out.
func WithContext(ctx context.Context) Option {
	return optionFunc(func(o *Options) { o.ctx, o.cancels = ctx, ctx != nil })
}

// WithValues is WithContext for ctx's values alone: a job that must outlive
// the request that made it keeps the request's values (its request id, its
// trace span as a parent) but not its cancellation or deadline.
func WithValues(ctx context.Context) Option {
	return optionFunc(func(o *Options) { o.ctx, o.cancels = ctx, false })
}

// WithOptions sets every option at once from o (Labels are copied).
func WithOptions(o Options) Option {
	return optionFunc(func(dst *Options) {
		*dst = o
		dst.err = nil
		dst.Labels = maps.Clone(o.Labels)
		// o's own bad values stay bad whatever follows, as for the
		// single options.
		dst.err = dst.validate()
	})
}

func (o *Options) validate() error {
	switch {
	case o.err != nil:
		return o.err
	case o.Weight < 0:
		return fmt.Errorf("%w: weight %d is below 1", ErrInvalidOption, o.Weight)
	case o.Timeout < 0:
		return fmt.Errorf("%w: negative timeout %v", ErrInvalidOption, o.Timeout)
	case o.Priority < math.MinInt32 || o.Priority > math.MaxInt32:
		return fmt.Errorf("%w: priority %d out of the int32 range", ErrInvalidOption, o.Priority)
	}
	return nil
}
