package factory

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/lazysched/lazysched/factory/internal/glue"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A Factory decides where and when a task runs: it takes a Lazy task and
// queues it, starts it, or refuses it. The caller makes the task (and so
// keeps its typed handle); the factory only places it. Submit and Go are
// the usual way in.
//
// Enqueue hands h, a Lazy task, to the factory. On success the factory owns
// the task's start: it will run it or end it (canceled, say, when its scope
// closes), never leave it Lazy. On error the task is left as it was.
//
// *scheduler.Scope and *scheduler.Scheduler implement Factory. Their hooks
// see such a task from OnQueue on; a task made there with scheduler.Submit
// also fires OnCreate.
type Factory interface {
	Enqueue(h lazytask.Handle) error
}

// Of returns sp as a Factory: tasks go to the root scope of a *Scheduler,
// or to the *Scope itself. It is a conversion for code that holds a
// scheduler.Spawner; a *Scope or a *Scheduler can be passed as a Factory
// directly. Of(nil), or of a nil *Scheduler or *Scope, is nil; Of of a
// zero Scheduler (not made by scheduler.New) panics, as its methods do.
func Of(sp scheduler.Spawner) Factory {
	if sc := glue.Scope(sp); sc != nil {
		return sc
	}
	return nil
}

// Goroutines is a Factory that starts every task at once on a goroutine of
// its own, with no cap and no scope, as lazytask's Start does. The zero
// value is ready to use.
type Goroutines struct{}

// Enqueue starts h now; it returns lazytask.ErrStarted if h is not Lazy.
func (Goroutines) Enqueue(h lazytask.Handle) error {
	if h == nil {
		return scheduler.ErrForeignHandle
	}
	if v := reflect.ValueOf(h); v.Kind() == reflect.Pointer && v.IsNil() {
		return fmt.Errorf("%w: nil %T", scheduler.ErrForeignHandle, h) // as a scheduler's Enqueue says
	}
	return h.Start()
}

// Submit makes a Lazy task that runs fn with opts and hands it to f; it is
// what scheduler.Submit is for a scope. It returns the task's handle at
// once. A nil f stands for Goroutines.
//
// On bad input or refusal Submit returns a handle that has already ended,
// and the error: lazytask.ErrNilFunc or lazytask.ErrInvalidOption (the task
// is Failed), or f's refusal (the task is Canceled with it as the cause, and
// never runs); a typed nil f, such as a nil *scheduler.Scope, is refused
// with scheduler.ErrNilScope. A zero scheduler.Scheduler or Scope (not made
// by New or NewScope) panics in its Enqueue, as its methods do, where
// scheduler.Submit would return ErrNilScope.
func Submit[T any](f Factory, fn func(ctx context.Context) (T, error), opts ...lazytask.Option) (*lazytask.Task[T], error) {
	f, opts = unwrapOptions(f, nil, opts)
	t := lazytask.New(fn, opts...)
	if t.State().Terminal() {
		return t, t.Err()
	}
	if f == nil {
		f = Goroutines{}
	}
	if v := reflect.ValueOf(f); v.Kind() == reflect.Pointer && v.IsNil() {
		// A typed nil (*scheduler.Scope)(nil), say, whose methods panic:
		// refused as scheduler.Submit refuses a nil scope.
		err := fmt.Errorf("%w: nil %T", scheduler.ErrNilScope, f)
		t.Cancel(err)
		return t, err
	}
	if err := f.Enqueue(t); err != nil {
		t.Cancel(err)
		return t, err
	}
	return t, nil
}

// Go is Submit for a function with no result.
func Go(f Factory, fn func(ctx context.Context) error, opts ...lazytask.Option) (*lazytask.Task[struct{}], error) {
	if fn == nil {
		return Submit[struct{}](f, nil, opts...)
	}
	return Submit(f, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) }, opts...)
}

// WithOptions returns a Factory that places tasks in f and gives every task
// that this package makes through it (Submit, Go, Race, Gather, AsCompleted,
// Map) the options opts, before the call's own: a priority, a timeout, a
// name or labels for a whole fan-out. A task made elsewhere and handed to
// its Enqueue goes to f unchanged: options are fixed when a task is made.
// WithOptions of a WithOptions factory adds to its options.
func WithOptions(f Factory, opts ...lazytask.Option) Factory {
	if of, ok := f.(*optioned); ok {
		return &optioned{f: of.f, opts: slices.Concat(of.opts, opts)}
	}
	return &optioned{f: f, opts: opts}
}

// unwrapOptions returns the Factory a task made through f goes to, and its
// options: first, then those of f if it is a WithOptions factory, then
// opts; later options override earlier ones.
func unwrapOptions(f Factory, first, opts []lazytask.Option) (Factory, []lazytask.Option) {
	if of, ok := f.(*optioned); ok {
		return of.f, slices.Concat(first, of.opts, opts)
	}
	if len(first) == 0 {
		return f, opts // a plain Submit copies nothing
	}
	return f, slices.Concat(first, opts)
}

// optioned is WithOptions' Factory.
type optioned struct {
	f    Factory // nil stands for Goroutines
	opts []lazytask.Option
}

// Enqueue hands h to the underlying factory.
func (o *optioned) Enqueue(h lazytask.Handle) error {
	if o.f == nil {
		return Goroutines{}.Enqueue(h)
	}
	return o.f.Enqueue(h)
}
