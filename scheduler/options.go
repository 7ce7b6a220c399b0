package scheduler

import (
	"fmt"
	"log/slog"
	"runtime"
)

// An Option configures a Scheduler in New.
type Option interface{ apply(*config) error }

type config struct {
	limit      int64
	unlimited  bool
	queueLimit int
	logger     *slog.Logger
}

func defaults() config {
	return config{limit: int64(runtime.GOMAXPROCS(0)), logger: slog.Default()}
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// WithLimit sets the cap: the number of slots that running tasks may take
// together. n must be at least 1 (ErrInvalidLimit). The default is
// runtime.GOMAXPROCS(0).
func WithLimit(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: %d", ErrInvalidLimit, n)
		}
		c.limit, c.unlimited = int64(n), false
		return nil
	})
}

// Unlimited removes the cap: every task is admitted at once. Priorities,
// force-run and promote then have nothing to order.
func Unlimited() Option {
	return optionFunc(func(c *config) error { c.unlimited = true; return nil })
}

// WithQueueLimit bounds the queue to n waiting tasks: Submit and Enqueue
// then return ErrQueueFull, and SubmitWait waits for room. n must be at
// least 1; the default is an unbounded queue.
func WithQueueLimit(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: queue limit %d", ErrInvalidLimit, n)
		}
		c.queueLimit = n
		return nil
	})
}

// WithLogger sets the logger that receives panics from done callbacks (and,
// with scopes, the failures a supervisor reports). The default is
// slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error {
		if l != nil {
			c.logger = l
		}
		return nil
	})
}
