package lazyotel

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	nooptrace "go.opentelemetry.io/otel/trace/noop"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// ScopeName is the instrumentation scope of the tracer and meter that an
// Observer gets from its providers.
const ScopeName = "github.com/lazysched/lazysched/otel"

// The attribute keys of spans and measurements.
const (
	keyName      = attribute.Key("lazysched.task.name")
	keyPriority  = attribute.Key("lazysched.task.priority")
	keyWeight    = attribute.Key("lazysched.task.weight")
	keyLabel     = "lazysched.task.label."
	keyScope     = attribute.Key("lazysched.scope")
	keyForced    = attribute.Key("lazysched.task.forced")
	keyPromoted  = attribute.Key("lazysched.task.promoted")
	keyOutcome   = attribute.Key("lazysched.task.outcome")
	keyQueueTime = attribute.Key("lazysched.task.queue_time")
	keyCause     = attribute.Key("lazysched.task.cancel_cause")
)

// spanName is the name of the span of a task that has no name.
const spanName = "lazysched.task"

// startedEvent marks the start of a task that waited in a queue.
const startedEvent = "lazysched.task.started"

// outcome is how a task ended, as the outcome attribute says it.
type outcome uint8

const (
	succeeded outcome = iota
	failed
	panicked
	canceled
	rejected
	numOutcomes
)

func (o outcome) String() string {
	return [...]string{"succeeded", "failed", "panicked", "canceled", "rejected"}[o]
}

// outcomeOf tells how h ended; err is its error. A task its scheduler
// refused is "rejected" whatever its state, as Stats counts it.
func outcomeOf(h lazytask.Handle, err error) (outcome, *lazytask.PanicError) {
	if h.State() == lazytask.Succeeded {
		return succeeded, nil
	}
	if h.Info().Rejected {
		return rejected, nil
	}
	if h.State() == lazytask.Canceled {
		return canceled, nil
	}
	if h.Info().Panicked { // its own panic, not a PanicError it returned
		pe, _ := errors.AsType[*lazytask.PanicError](err)
		return panicked, pe
	}
	return failed, nil
}

// An Option configures an Observer (New, Hooks).
type Option interface{ apply(*config) error }

type config struct {
	tp           trace.TracerProvider
	mp           metric.MeterProvider
	startedEvent bool
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// WithTracerProvider makes the Observer trace with tp; the default is the
// global provider (otel.GetTracerProvider) at the time of New. A nil tp is
// refused with ErrNilProvider. With the API's no-op provider
// (go.opentelemetry.io/otel/trace/noop) the Observer only measures: it
// starts no span and leaves each task's context as it is, which saves it
// 4 allocations a task (BenchmarkOtel's otel-metrics runner).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) error {
		if tp == nil {
			return fmt.Errorf("%w: WithTracerProvider(nil)", ErrNilProvider)
		}
		c.tp = tp
		return nil
	})
}

// WithMeterProvider makes the Observer measure with mp; the default is the
// global provider (otel.GetMeterProvider) at the time of New. A nil mp is
// refused with ErrNilProvider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) error {
		if mp == nil {
			return fmt.Errorf("%w: WithMeterProvider(nil)", ErrNilProvider)
		}
		c.mp = mp
		return nil
	})
}

// WithStartedEvent adds to the span of each task that waited in a queue an
// event "lazysched.task.started" at the moment it started, for trace
// viewers that draw events on the span's bar. Off by default: the span's
// start (the queueing) and its lazysched.task.queue_time attribute say the
// same, and the event costs 4 allocations and 200 B a task (17 against 13
// allocations in BenchmarkOtel).
func WithStartedEvent() Option {
	return optionFunc(func(c *config) error { c.startedEvent = true; return nil })
}

// Observer traces and measures the tasks of the schedulers and scopes its
// Hooks are registered on. Make it with New; the zero value is not usable
// (its methods, like a nil Observer's, panic with a message that says so).
// It is safe for concurrent use and must not be copied; one Observer may serve several
// schedulers.
type Observer struct {
	_         noCopy
	tracer    trace.Tracer
	tasks     metric.Int64Counter
	queueTime metric.Float64Histogram
	runTime   metric.Float64Histogram
	reg       metric.Registration
	scopes    scopeSet
	// startedEvent: WithStartedEvent
	startedEvent bool
	// noTrace: the tracer provider is the API's no-op one; no span is made.
	noTrace bool
}

// latencyBuckets are the histograms' bounds, in seconds: from 10 µs (a
// no-op task) to 5 min (a batch job).
var latencyBuckets = []float64{1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// New returns an Observer with the given options. It returns an error
// wrapping ErrNilProvider for a nil provider, or the meter's error if an
// instrument cannot be made. Close unregisters its gauges' callback.
func New(opts ...Option) (*Observer, error) {
	var cfg config
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.tp == nil {
		cfg.tp = otel.GetTracerProvider()
	}
	if cfg.mp == nil {
		cfg.mp = otel.GetMeterProvider()
	}
	o := &Observer{tracer: cfg.tp.Tracer(ScopeName), startedEvent: cfg.startedEvent}
	_, o.noTrace = cfg.tp.(nooptrace.TracerProvider)
	m := cfg.mp.Meter(ScopeName)
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	o.tasks, err = m.Int64Counter("lazysched.tasks", metric.WithUnit("{task}"),
		metric.WithDescription("Tasks ended, by scope and outcome."))
	note(err)
	o.queueTime, err = m.Float64Histogram("lazysched.task.queue_time", metric.WithUnit("s"),
		metric.WithDescription("Time tasks waited in a queue before they started."),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	note(err)
	o.runTime, err = m.Float64Histogram("lazysched.task.run_time", metric.WithUnit("s"),
		metric.WithDescription("Time tasks ran, by scope and outcome."),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	note(err)
	queued, err := m.Int64ObservableGauge("lazysched.scope.queued", metric.WithUnit("{task}"),
		metric.WithDescription("Tasks of the scope's subtree waiting in its queues."))
	note(err)
	running, err := m.Int64ObservableGauge("lazysched.scope.running", metric.WithUnit("{task}"),
		metric.WithDescription("Tasks of the scope's subtree running."))
	note(err)
	inUse, err := m.Int64ObservableGauge("lazysched.scope.in_use", metric.WithUnit("{slot}"),
		metric.WithDescription("Slots of the scope's cap that its subtree's tasks take."))
	note(err)
	limit, err := m.Int64ObservableGauge("lazysched.scope.limit", metric.WithUnit("{slot}"),
		metric.WithDescription("The scope's own cap; absent for a scope without one."))
	note(err)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	o.reg, err = m.RegisterCallback(func(_ context.Context, ob metric.Observer) error {
		// One scope a path: the gauges of one attribute set keep the
		// last value observed, and a scope its scheduler released that
		// the set still holds (until a garbage collection) must not hide
		// a live one of its path (a host's scope made again).
		type seen struct {
			info *scopeInfo
			st   scheduler.Stats
			gone bool
		}
		byPath := map[string]seen{}
		var paths []string
		o.scopes.each(func(sc *scheduler.Scope, info *scopeInfo) {
			st := sc.Stats()
			gone := sc.Released()
			cur, ok := byPath[info.path]
			if ok && (!cur.gone || gone) {
				return
			}
			if !ok {
				paths = append(paths, info.path)
			}
			byPath[info.path] = seen{info, st, gone}
		})
		for _, p := range paths {
			x := byPath[p]
			ob.ObserveInt64(queued, int64(x.st.Queued), x.info.set)
			ob.ObserveInt64(running, int64(x.st.Running), x.info.set)
			ob.ObserveInt64(inUse, int64(x.st.InUse), x.info.set)
			if !x.st.Unlimited {
				ob.ObserveInt64(limit, int64(x.st.Limit), x.info.set)
			}
		}
		return nil
	}, queued, running, inUse, limit)
	if err != nil {
		return nil, err
	}
	return o, nil
}

// Hooks is New(opts...).Hooks(), for a program that never closes its
// Observer. An error of New is handed to otel.Handle, and the hooks
// returned then do nothing.
func Hooks(opts ...Option) scheduler.Hooks {
	o, err := New(opts...)
	if err != nil {
		otel.Handle(err)
		return scheduler.Hooks{}
	}
	return o.Hooks()
}

// Hooks returns the hooks to register with scheduler.WithHooks, on a
// scheduler or on a scope (its children inherit them). Register them once
// on a task's path: given twice (a child scope given the hooks its parent
// has), a task that runs still gets one span and is counted once, but one
// that never ran, and every task under a no-op tracer provider, is
// counted twice.
func (o *Observer) Hooks() scheduler.Hooks {
	o.live()
	return scheduler.Hooks{OnQueue: o.onQueue, OnStart: o.onStart, OnDone: o.onDone, Timings: true} // the queue time
}

// Observe adds scopes to the gauges before the hooks have seen a task of
// theirs (a scope whose tasks are all still to come, or one without
// hooks).
func (o *Observer) Observe(scopes ...*scheduler.Scope) {
	o.live()
	for _, sc := range scopes {
		if sc != nil {
			o.scopes.get(sc)
		}
	}
}

// Close unregisters the gauges' callback: the scopes are no longer
// observed. The hooks go on tracing and counting.
func (o *Observer) Close() error { return o.live().reg.Unregister() }

// live returns o, or panics with a message that names the mistake for a
// nil or zero Observer (its hooks would panic in every task's steps).
func (o *Observer) live() *Observer {
	if o == nil || o.tracer == nil {
		panic("lazyotel: method called on a nil or zero *Observer (make one with New)")
	}
	return o
}

// spanKey is the context key of the task's span, so that OnDone finds
// this Observer's span even under the spans of hooks registered after it,
// another Observer's among them: each Observer has its own key.
type spanKey struct{ o *Observer }

// spanCtx is the context OnStart returns: ctx with the task's span, and
// what OnDone needs that it can only learn at the start, in one node.
type spanCtx struct {
	context.Context
	o        *Observer
	h        lazytask.Handle // the task the span is of
	span     trace.Span
	forced   bool
	promoted bool
	// ended: a done hook of this Observer has ended the span. The hooks
	// registered twice on a task's path (a child scope given the hooks its
	// parent has) see the task twice; the second sees this and does nothing.
	ended atomic.Bool
}

// Value answers spanKey; every other key is ctx's.
func (c *spanCtx) Value(key any) any {
	if k, ok := key.(spanKey); ok && k.o == c.o {
		return c
	}
	return c.Context.Value(key)
}

func (o *Observer) onQueue(_ context.Context, sc *scheduler.Scope, _ lazytask.Handle) {
	o.scopes.get(sc)
}

func (o *Observer) onStart(ctx context.Context, sc *scheduler.Scope, h lazytask.Handle) context.Context {
	if sctx, ok := ctx.Value(spanKey{o}).(*spanCtx); ok && sctx.h == h {
		return nil // this Observer's hooks, registered twice: one span
	}
	info := h.Info()
	si := o.scopes.get(sc)
	tm := info.Timings
	if o.noTrace {
		if !tm.Queued.IsZero() {
			o.queueTime.Record(ctx, tm.QueueTime().Seconds(), si.record...)
		}
		return nil // the task's context stays as it is
	}
	ctx, span := o.startSpan(ctx, info.Name, tm.Queued)
	wait := tm.QueueTime()
	if !tm.Queued.IsZero() {
		// With the task's span on top of ctx, an exemplar filter finds
		// it at once.
		o.queueTime.Record(ctx, wait.Seconds(), si.record...)
	}
	return &spanCtx{Context: ctx, o: o, h: h, span: span, forced: info.OverCap, promoted: info.Promoted}
}

// startSpan starts the span of the task named name at start (now if
// zero), under the span of ctx. Its attributes are set at the end, in one
// call: the SDK's span then grows its attributes once (setting them at the
// start and the outcome at the end cost 2 allocations and 500 B a task
// more in BenchmarkOtel); a sampler sees the span's name, not them.
func (o *Observer) startSpan(ctx context.Context, name string, start time.Time) (context.Context, trace.Span) {
	if name == "" {
		name = spanName
	}
	if start.IsZero() {
		return o.tracer.Start(ctx, name)
	}
	return o.tracer.Start(ctx, name, trace.WithTimestamp(start))
}

func (o *Observer) onDone(ctx context.Context, sc *scheduler.Scope, h lazytask.Handle) {
	sctx, ok := ctx.Value(spanKey{o}).(*spanCtx)
	if ok = ok && sctx.h == h; ok && sctx.ended.Swap(true) {
		return // ended by this Observer's hooks registered before these
	}
	si := o.scopes.get(sc)
	err := h.Err()
	oc, pe := outcomeOf(h, err)
	tm := h.Timings()
	o.tasks.Add(ctx, 1, si.add[oc]...)
	if !tm.Started.IsZero() {
		o.runTime.Record(ctx, tm.RunTime().Seconds(), si.recordBy[oc]...)
	}
	if o.noTrace {
		return
	}
	var span trace.Span
	var forced, promoted bool
	// The span this Observer started for this task: a task that never
	// ran may carry another task's context, and with it that task's span.
	if ok {
		span, forced, promoted = sctx.span, sctx.forced, sctx.promoted
	} else {
		// Ended before it ran: its span covers its wait.
		start := tm.Queued
		if start.IsZero() {
			start = tm.Created
		}
		_, span = o.startSpan(ctx, h.Name(), start)
	}
	if !span.IsRecording() {
		span.End()
		return
	}
	if o.startedEvent && !tm.Started.IsZero() && tm.QueueTime() > 0 {
		// Added at the end: the function's start is known only once the
		// start hooks, this one among them, have run.
		span.AddEvent(startedEvent, trace.WithTimestamp(tm.Started))
	}
	opts := h.Options()
	attrs := make([]attribute.KeyValue, 0, 8+len(opts.Labels))
	attrs = append(attrs, keyName.String(opts.Name), keyPriority.Int(opts.Priority),
		keyWeight.Int(opts.Weight), si.attr, keyForced.Bool(forced), keyPromoted.Bool(promoted), keyOutcome.String(oc.String()))
	if !tm.Started.IsZero() {
		attrs = append(attrs, keyQueueTime.Float64(tm.QueueTime().Seconds()))
	}
	if oc == canceled || oc == rejected && h.State() == lazytask.Canceled {
		attrs = append(attrs, keyCause.String(err.Error()))
	}
	for k, v := range opts.Labels {
		attrs = append(attrs, attribute.String(keyLabel+k, v))
	}
	span.SetAttributes(attrs...)
	switch oc {
	case rejected:
		span.SetStatus(codes.Error, "rejected: "+err.Error())
	case failed:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	case panicked:
		span.AddEvent(semconv.ExceptionEventName, trace.WithAttributes(
			semconv.ExceptionTypeKey.String(typeName(pe.Value)),
			semconv.ExceptionMessageKey.String(fmt.Sprint(pe.Value)),
			semconv.ExceptionStacktraceKey.String(string(pe.Stack)),
		))
		span.SetStatus(codes.Error, "panic: "+fmt.Sprint(pe.Value))
	}
	if tm.Finished.IsZero() {
		span.End()
		return
	}
	span.End(trace.WithTimestamp(tm.Finished))
}

// typeName names the type of a panic value as exception.type wants it:
// package path and name where it has them.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "<nil>"
	}
	if t.PkgPath() != "" && t.Name() != "" {
		return t.PkgPath() + "." + t.Name()
	}
	return t.String()
}

// noCopy makes go vet's copylocks check refuse copies of the types that
// hold it.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
