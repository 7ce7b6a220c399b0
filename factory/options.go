package factory

import (
	"context"
	"fmt"
	"time"

	"github.com/lazysched/lazysched/scheduler"
)

// A ServeOption configures Serve, Start, ServeHTTP and StartHTTP.
type ServeOption interface{ apply(*serveConfig) error }

type serveConfig struct {
	name        string
	limit       int
	queue       bool
	grace       time.Duration
	parent      scheduler.Spawner
	handlerOpts []scheduler.Option
	onPause     func() // tests: the accept loop waits for a slot
	// values is Serve's context: its values reach every handler task.
	values context.Context
}

// DefaultGrace is how long Serve and ServeHTTP let handlers drain after
// their context ends, unless WithGrace says otherwise.
const DefaultGrace = 10 * time.Second

func newServeConfig(opts []ServeOption) (serveConfig, error) {
	cfg := serveConfig{name: "server", grace: DefaultGrace}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

type serveOption func(*serveConfig) error

func (f serveOption) apply(c *serveConfig) error { return f(c) }

// WithLimit caps the handlers that run at once at n (at least 1;
// scheduler.ErrInvalidLimit otherwise): it is the cap of the handler scope.
// By default the handler scope has no cap of its own. What happens to a
// connection beyond the cap is QueueWhenFull's business.
func WithLimit(n int) ServeOption {
	return serveOption(func(c *serveConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: server limit %d", scheduler.ErrInvalidLimit, n)
		}
		c.limit = n
		return nil
	})
}

// QueueWhenFull makes a TCP server at its cap (WithLimit) keep accepting
// connections and queue their handlers in the handler scope, where they
// wait for a slot. By default it stops accepting until a slot frees, and
// new connections wait in the listener's backlog. An HTTP server always
// queues requests: a connection carries many of them.
func QueueWhenFull() ServeOption {
	return serveOption(func(c *serveConfig) error { c.queue = true; return nil })
}

// WithGrace sets how long Serve and ServeHTTP let handlers drain after
// their context ends, before they cancel the stragglers (DefaultGrace
// otherwise; 0 cancels at once). Start and StartHTTP ignore it: their
// Shutdown takes the grace period as a context.
func WithGrace(d time.Duration) ServeOption {
	return serveOption(func(c *serveConfig) error {
		if d < 0 {
			return fmt.Errorf("%w: negative grace %v", scheduler.ErrInvalidOption, d)
		}
		c.grace = d
		return nil
	})
}

// WithScope makes the server's scopes children of sp (a *Scheduler's root
// scope or a *Scope): its tasks then count against sp's caps, its hooks see
// them, and shutting sp down shuts the server down with it. By default a
// server runs on a scheduler of its own, with no cap but WithLimit's.
func WithScope(sp scheduler.Spawner) ServeOption {
	return serveOption(func(c *serveConfig) error { c.parent = sp; return nil })
}

// WithName names the server's scope (default "server"); the handler scope
// is named after it, with "/handlers" appended.
func WithName(name string) ServeOption {
	return serveOption(func(c *serveConfig) error { c.name = name; return nil })
}

// WithHandlerScope adds scheduler options to the handler scope: its error
// policy (scheduler.Supervise with a handler, or scheduler.FailFast),
// hooks, a timeout. Handler errors follow that scope's policy; the default
// is the supervisor, which logs them.
func WithHandlerScope(opts ...scheduler.Option) ServeOption {
	return serveOption(func(c *serveConfig) error {
		c.handlerOpts = append(c.handlerOpts, opts...)
		return nil
	})
}

// withPauseHook calls f each time the accept loop waits for a free slot.
func withPauseHook(f func()) ServeOption {
	return serveOption(func(c *serveConfig) error { c.onPause = f; return nil })
}

// withValues carries ctx's values into every handler task: Serve and
// ServeHTTP give it their context.
func withValues(ctx context.Context) ServeOption {
	return serveOption(func(c *serveConfig) error {
		c.values = ctx
		return nil
	})
}
