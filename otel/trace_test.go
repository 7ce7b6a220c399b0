package lazyotel_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/lazysched/lazysched/lazytask"
	lazyotel "github.com/lazysched/lazysched/otel"
	"github.com/lazysched/lazysched/scheduler"
)

func TestTaskSpanIsAChildOfTheSpanItsContextCarriesAndTheParentOfItsOwn(t *testing.T) {
	r := newRig(t)
	s := r.sched(t, scheduler.WithLimit(2))
	ctx, req := r.tp.Tracer("test").Start(context.Background(), "GET /report")
	var hs []*lazytask.Task[int]
	for _, name := range []string{"render", "query"} {
		h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			_, inner := r.tp.Tracer("test").Start(ctx, name+".inner")
			inner.End()
			return 1, nil
		}, lazytask.WithContext(ctx), lazytask.WithName(name))
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for _, h := range hs {
		require.NoError(t, h.Wait(bounded(t)))
	}
	req.End()
	shutdown(t, s)

	parent := r.span(t, "GET /report")
	for _, name := range []string{"render", "query"} {
		task, inner := r.span(t, name), r.span(t, name+".inner")
		assert.Equal(t, parent.SpanContext().TraceID(), task.SpanContext().TraceID(), "trace of %s", name)
		assert.Equal(t, parent.SpanContext().SpanID(), task.Parent().SpanID(), "parent of task %s's span", name)
		assert.Equal(t, task.SpanContext().SpanID(), inner.Parent().SpanID(), "parent of the span %s's function started", name)
		assert.Equal(t, trace.SpanKindInternal, task.SpanKind(), "kind of %s's span", name)
		assert.False(t, task.EndTime().Before(inner.EndTime()), "%s's span ends after its inner span", name)
	}
	logTree(t, r.rec.Ended())
}

// logTree logs the ended spans as a tree, with their ids, for the report.
func logTree(t *testing.T, spans []sdktrace.ReadOnlySpan) {
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		ids[s.SpanContext().SpanID()] = true
	}
	var roots []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if p := s.Parent().SpanID(); p.IsValid() && ids[p] {
			children[p] = append(children[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	var walk func(s sdktrace.ReadOnlySpan, depth int)
	walk = func(s sdktrace.ReadOnlySpan, depth int) {
		pad := ""
		for range depth {
			pad += "  "
		}
		t.Logf("%s%s span=%s parent=%s trace=%s dur=%v", pad, s.Name(), s.SpanContext().SpanID(), s.Parent().SpanID(), s.SpanContext().TraceID(), s.EndTime().Sub(s.StartTime()))
		for _, c := range children[s.SpanContext().SpanID()] {
			walk(c, depth+1)
		}
	}
	for _, s := range roots {
		walk(s, 0)
	}
}

func TestTaskSpanCarriesTheTasksOptionsScopeAndWait(t *testing.T) {
	r := newRig(t, lazyotel.WithStartedEvent())
	s := r.sched(t, scheduler.WithLimit(2))
	crawl, err := s.Root().NewScope(scheduler.WithName("crawl"), scheduler.WithLimit(1))
	require.NoError(t, err)
	host, err := crawl.NewScope(scheduler.WithName("example.com"))
	require.NoError(t, err)
	hold, release := make(chan struct{}), make(chan struct{})
	holder, err := scheduler.Go(host, func(context.Context) error { close(hold); <-release; return nil }, lazytask.WithName("holder"))
	require.NoError(t, err)
	<-hold
	waiter, err := scheduler.Go(host, func(context.Context) error { return nil },
		lazytask.WithName("fetch"), lazytask.WithPriority(3), lazytask.WithWeight(1),
		lazytask.WithLabel("host", "example.com"), lazytask.WithLabel("kind", "page"))
	require.NoError(t, err)
	forced, err := scheduler.Go(host, func(context.Context) error { return nil }, lazytask.WithName("forced"))
	require.NoError(t, err)
	require.NoError(t, host.Force(forced), "Force of a queued task")
	require.NoError(t, forced.Wait(bounded(t)))
	promoted, err := scheduler.Go(host, func(context.Context) error { return nil }, lazytask.WithName("promoted"))
	require.NoError(t, err)
	require.NoError(t, s.Promote(promoted), "Promote of a queued task")
	close(release)
	require.NoError(t, holder.Wait(bounded(t)))
	require.NoError(t, waiter.Wait(bounded(t)))
	require.NoError(t, promoted.Wait(bounded(t)))
	shutdown(t, s)

	got := attrs(r.span(t, "fetch"))
	assert.Equal(t, "fetch", got["lazysched.task.name"].AsString(), "name")
	assert.Equal(t, int64(3), got["lazysched.task.priority"].AsInt64(), "priority")
	assert.Equal(t, int64(1), got["lazysched.task.weight"].AsInt64(), "weight")
	assert.Equal(t, "example.com", got["lazysched.task.label.host"].AsString(), "label host")
	assert.Equal(t, "page", got["lazysched.task.label.kind"].AsString(), "label kind")
	assert.Equal(t, "root/crawl/example.com", got["lazysched.scope"].AsString(), "scope path")
	assert.False(t, got["lazysched.task.forced"].AsBool(), "forced of a task admitted under the cap")
	assert.False(t, got["lazysched.task.promoted"].AsBool(), "promoted of a task never promoted")
	assert.Equal(t, "succeeded", got["lazysched.task.outcome"].AsString(), "outcome")
	assert.Greater(t, got["lazysched.task.queue_time"].AsFloat64(), 0.0, "queue time of a task that waited for the holder")

	fetch := r.span(t, "fetch")
	require.Len(t, fetch.Events(), 1, "events of a task that waited")
	ev := fetch.Events()[0]
	assert.Equal(t, "lazysched.task.started", ev.Name, "event name")
	tm := waiter.Timings()
	assert.Equal(t, tm.Queued, fetch.StartTime(), "span start = queued time")
	assert.Equal(t, tm.Started, ev.Time, "started event = start time")
	assert.Equal(t, tm.Finished, fetch.EndTime(), "span end = finish time")
	assert.Equal(t, codes.Unset, fetch.Status().Code, "status of a success")

	f := attrs(r.span(t, "forced"))
	assert.True(t, f["lazysched.task.forced"].AsBool(), "forced of a force-run task")
	pr := attrs(r.span(t, "promoted"))
	assert.True(t, pr["lazysched.task.promoted"].AsBool(), "promoted of a promoted task")
	assert.False(t, pr["lazysched.task.forced"].AsBool(), "forced of a promoted task")
	assert.True(t, promoted.Info().Promoted, "Info().Promoted of a promoted task")
	assert.False(t, waiter.Info().Promoted, "Info().Promoted of a task never promoted")
}

func TestUnnamedTasksAndScopesGetDefaultNames(t *testing.T) {
	r := newRig(t)
	s := r.sched(t)
	child, err := s.Root().NewScope()
	require.NoError(t, err)
	grandchild, err := child.NewScope()
	require.NoError(t, err)
	h, err := scheduler.Go(grandchild, func(context.Context) error { return nil })
	require.NoError(t, err)
	require.NoError(t, h.Wait(bounded(t)))
	shutdown(t, s)
	span := r.span(t, "lazysched.task")
	assert.Equal(t, "root/1/1", attrs(span)["lazysched.scope"].AsString(), "path of default-named scopes")
}

// outcomeCase is one way for a task to end, and what its span must show.
type outcomeCase struct {
	name    string
	fn      func(ctx context.Context) error
	outcome string
	status  codes.Code
	// check looks at the span further.
	check func(t *testing.T, s sdktrace.ReadOnlySpan)
}

var errBadInput = errors.New("bad input")

func TestTaskSpanTellsEachOutcome(t *testing.T) {
	cases := []outcomeCase{
		{name: "ok", fn: func(context.Context) error { return nil }, outcome: "succeeded", status: codes.Unset,
			check: func(t *testing.T, s sdktrace.ReadOnlySpan) {
				assert.Empty(t, s.Events(), "events of a success without WithStartedEvent")
			}},
		{name: "bad", fn: func(context.Context) error { return errBadInput }, outcome: "failed", status: codes.Error,
			check: func(t *testing.T, s sdktrace.ReadOnlySpan) {
				assert.Equal(t, "bad input", s.Status().Description, "status description")
				ev := exception(t, s)
				assert.Equal(t, "bad input", ev["exception.message"].AsString(), "exception.message")
				assert.NotEmpty(t, ev["exception.type"].AsString(), "exception.type")
			}},
		{name: "panics", fn: func(context.Context) error { panic("page too large") }, outcome: "panicked", status: codes.Error,
			check: func(t *testing.T, s sdktrace.ReadOnlySpan) {
				assert.Equal(t, "panic: page too large", s.Status().Description, "status description")
				ev := exception(t, s)
				assert.Equal(t, "string", ev["exception.type"].AsString(), "exception.type of a string panic")
				assert.Equal(t, "page too large", ev["exception.message"].AsString(), "exception.message")
				assert.Contains(t, ev["exception.stacktrace"].AsString(), "TestTaskSpanTellsEachOutcome", "exception.stacktrace names the panicking function")
			}},
		{name: "panics-error", fn: func(context.Context) error { panic(errBadInput) }, outcome: "panicked", status: codes.Error,
			check: func(t *testing.T, s sdktrace.ReadOnlySpan) {
				assert.Equal(t, "*errors.errorString", exception(t, s)["exception.type"].AsString(), "exception.type of an error panic")
			}},
		{name: "gives-up", fn: func(ctx context.Context) error {
			lazytask.HandleOf(ctx).Cancel(nil) // a running task: its context is canceled
			return ctx.Err()
		}, outcome: "canceled", status: codes.Unset,
			check: func(t *testing.T, s sdktrace.ReadOnlySpan) {
				assert.Equal(t, "context canceled", attrs(s)["lazysched.task.cancel_cause"].AsString(), "cancel cause")
			}},
	}
	r := newRig(t)
	s := r.sched(t, scheduler.WithLimit(2))
	for _, c := range cases {
		h, err := scheduler.Go(s, c.fn, lazytask.WithName(c.name))
		require.NoError(t, err)
		_ = h.Wait(bounded(t))
	}
	shutdown(t, s)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			span := r.span(t, c.name)
			assert.Equal(t, c.outcome, attrs(span)["lazysched.task.outcome"].AsString(), "outcome")
			assert.Equal(t, c.status, span.Status().Code, "status code")
			c.check(t, span)
		})
	}
}

// exception returns the attributes of a span's one exception event.
func exception(t *testing.T, s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	t.Helper()
	var evs []sdktrace.Event
	for _, ev := range s.Events() {
		if ev.Name == "exception" {
			evs = append(evs, ev)
		}
	}
	require.Len(t, evs, 1, "exception events")
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range evs[0].Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestATaskCanceledBeforeItRanStillHasItsSpanUnderItsParent(t *testing.T) {
	r := newRig(t)
	s := r.sched(t, scheduler.WithLimit(1))
	hold, release := make(chan struct{}), make(chan struct{})
	holder, err := scheduler.Go(s, func(context.Context) error { close(hold); <-release; return nil })
	require.NoError(t, err)
	<-hold
	ctx, req := r.tp.Tracer("test").Start(context.Background(), "request")
	ran := false
	h, err := scheduler.Go(s, func(context.Context) error { ran = true; return nil },
		lazytask.WithContext(ctx), lazytask.WithName("never"), lazytask.WithLabel("k", "v"))
	require.NoError(t, err)
	gone := errors.New("client went away")
	require.True(t, h.Cancel(gone), "Cancel of a queued task")
	close(release)
	require.NoError(t, holder.Wait(bounded(t)))
	req.End()
	shutdown(t, s)

	assert.False(t, ran, "the canceled task's function ran")
	span := r.span(t, "never")
	got := attrs(span)
	assert.Equal(t, r.span(t, "request").SpanContext().SpanID(), span.Parent().SpanID(), "parent of a task canceled in its queue")
	assert.Equal(t, "canceled", got["lazysched.task.outcome"].AsString(), "outcome")
	assert.Equal(t, "client went away", got["lazysched.task.cancel_cause"].AsString(), "cancel cause")
	assert.Equal(t, "v", got["lazysched.task.label.k"].AsString(), "label of a task that never ran")
	assert.Equal(t, codes.Unset, span.Status().Code, "status of a cancellation")
	tm := h.Timings()
	assert.Equal(t, tm.Queued, span.StartTime(), "span start = queued time")
	assert.Equal(t, tm.Finished, span.EndTime(), "span end = cancel time")
}

func TestNewRefusesANilProvider(t *testing.T) {
	_, err := lazyotel.New(lazyotel.WithTracerProvider(nil))
	assert.ErrorIs(t, err, lazyotel.ErrNilProvider, "New(WithTracerProvider(nil))")
	_, err = lazyotel.New(lazyotel.WithMeterProvider(nil))
	assert.ErrorIs(t, err, lazyotel.ErrNilProvider, "New(WithMeterProvider(nil))")
	assert.Equal(t, scheduler.Hooks{}, hooksOf(lazyotel.Hooks(lazyotel.WithMeterProvider(nil))), "Hooks of a refused option")
}

// hooksOf tells which hooks are set (funcs are not comparable).
func hooksOf(h scheduler.Hooks) scheduler.Hooks {
	if h.OnCreate == nil && h.OnQueue == nil && h.OnStart == nil && h.OnDone == nil {
		return scheduler.Hooks{}
	}
	return h
}
