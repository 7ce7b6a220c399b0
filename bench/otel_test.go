package bench

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	nooptrace "go.opentelemetry.io/otel/trace/noop"

	"github.com/lazysched/lazysched/lazytask"
	lazyotel "github.com/lazysched/lazysched/otel"
	"github.com/lazysched/lazysched/scheduler"
)

// dropSpans is a span processor that drops every span: the tracer
// provider still samples, records and ends each span, and nothing is
// exported, so the benchmark times the instrumentation, not an exporter.
type dropSpans struct{}

func (dropSpans) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (dropSpans) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (dropSpans) Shutdown(context.Context) error                  { return nil }
func (dropSpans) ForceFlush(context.Context) error                { return nil }

// endedSpans counts the spans ended into it, by name.
type endedSpans struct {
	dropSpans
	mu    sync.Mutex
	names map[string]int
}

func (e *endedSpans) OnEnd(s sdktrace.ReadOnlySpan) {
	e.mu.Lock()
	e.names[s.Name()]++
	e.mu.Unlock()
}

// TestOtelRunnersEndASpanPerTask checks the runners of BenchmarkOtel that
// trace: each ends one span per task, so the benchmark times what it says.
func TestOtelRunnersEndASpanPerTask(t *testing.T) {
	const n = 300
	for _, name := range []string{"otel", "sdk-span"} {
		spans := &endedSpans{names: map[string]int{}}
		for _, r := range otelRunners(t, spans) {
			if r.name() == name {
				var c counter
				r.run(n, 4, 1, c.task)
				if got := c.calls.Load(); got != n {
					t.Fatalf("%s: %d calls; want %d", name, got, n)
				}
			}
		}
		total := 0
		for _, k := range spans.names {
			total += k
		}
		if total != n {
			t.Errorf("%s: %d spans ended (%v) for %d tasks; want %d", name, total, spans.names, n, n)
		}
	}
}

// BenchmarkOtel is W1 (1,000,000 no-op tasks, cap 8, every handle kept
// and awaited) five ways in rotated rounds: no hooks ("none"), four hooks
// that do nothing ("empty"), lazyotel's hooks ("otel") over a real SDK
// tracer provider (every span sampled and recorded, then dropped) and a
// real meter provider with a manual reader; to tell the metrics' share,
// "otel-metrics": lazyotel with tracing off; and, as the floor of a span
// per task, "sdk-span": two hooks that start a span of the same SDK at the
// start and end it at the end, with no attribute, event or metric.
// "ratios" reports empty/none, otel/none, metrics/none, span/none and
// otel/span, from the medians of the rounds' ns/task. Targets: empty <=
// 1.10x none, otel <= 2x none.
func BenchmarkOtel(b *testing.B) {
	n := scaled(1_000_000)
	otelBench(b, otelRunners(b, dropSpans{}), func(r runner) { r.run(n, 8, 1, noop) }, n)
}

// BenchmarkOtelCPU is BenchmarkOtel's five runners on W5's tasks: 10,000
// CPU-bound tasks of about 20µs under cap GOMAXPROCS, each handle kept and
// awaited. It tells what the hooks and a span per task add to tasks that
// do work (DESIGN §10 states the hooks' target beside W5); BenchmarkOtel
// tells what they cost on their own. ns/added is each runner's ns/task
// less none's, from the medians.
func BenchmarkOtelCPU(b *testing.B) {
	n := scaled(10_000)
	procs := runtime.GOMAXPROCS(0)
	iters := spinIters()
	task := func() { spin(iters) }
	otelBench(b, otelRunners(b, dropSpans{}), func(r runner) { r.run(n, procs, 1, task) }, n)
}

// otelRunners makes BenchmarkOtel's runners, their spans ended into sp
// and their providers closed when b ends.
func otelRunners(b testing.TB, sp sdktrace.SpanProcessor) []runner {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sp))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	obs, err := lazyotel.New(lazyotel.WithTracerProvider(tp), lazyotel.WithMeterProvider(mp))
	must(err)
	b.Cleanup(func() { _ = obs.Close() })
	// The same with tracing off (the API's no-op tracer provider): what
	// the metrics alone cost, for the report. Not one of the targets.
	metricsOnly, err := lazyotel.New(lazyotel.WithTracerProvider(nooptrace.NewTracerProvider()), lazyotel.WithMeterProvider(mp))
	must(err)
	b.Cleanup(func() { _ = metricsOnly.Close() })
	empty := func(context.Context, *scheduler.Scope, lazytask.Handle) {}
	emptyStart := func(context.Context, *scheduler.Scope, lazytask.Handle) context.Context { return nil }
	tracer := tp.Tracer("bench")
	spanStart := func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) context.Context {
		ctx, _ = tracer.Start(ctx, "task")
		return ctx
	}
	spanEnd := func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) {
		trace.SpanFromContext(ctx).End()
	}
	return []runner{
		lazyRunner{label: "none"},
		lazyRunner{label: "empty", opts: []scheduler.SchedulerOption{scheduler.WithHooks(scheduler.Hooks{
			OnCreate: empty, OnQueue: empty, OnStart: emptyStart, OnDone: empty,
		})}},
		lazyRunner{label: "otel", opts: []scheduler.SchedulerOption{scheduler.WithHooks(obs.Hooks())}},
		lazyRunner{label: "otel-metrics", opts: []scheduler.SchedulerOption{scheduler.WithHooks(metricsOnly.Hooks())}},
		lazyRunner{label: "sdk-span", opts: []scheduler.SchedulerOption{scheduler.WithHooks(scheduler.Hooks{
			OnStart: spanStart, OnDone: spanEnd,
		})}},
	}
}

// otelBench runs each of rs in rotated rounds, work being one round's
// workload of n tasks, then reports the ratios of the medians.
func otelBench(b *testing.B, rs []runner, work func(runner), n int) {
	times := map[string][]time.Duration{}
	eachRound(b, rounds, rs, func(b *testing.B, r runner) {
		times[r.name()] = append(times[r.name()], measure(b, n, func() { work(r) }))
	})
	b.Run("ratios", func(b *testing.B) {
		none := median(times["none"])
		if none <= 0 {
			b.Skip("no time measured for none (filtered out?)")
		}
		per := func(label string) float64 { return float64(median(times[label])) / float64(n) }
		b.ReportMetric(float64(median(times["empty"]))/float64(none), "empty/none")
		b.ReportMetric(float64(median(times["otel"]))/float64(none), "otel/none")
		b.ReportMetric(float64(median(times["otel-metrics"]))/float64(none), "metrics/none")
		b.ReportMetric(float64(median(times["sdk-span"]))/float64(none), "span/none")
		if span := median(times["sdk-span"]); span > 0 {
			b.ReportMetric(float64(median(times["otel"]))/float64(span), "otel/span")
		}
		b.ReportMetric(per("empty")-per("none"), "ns/added-empty")
		b.ReportMetric(per("otel")-per("none"), "ns/added-otel")
	})
}

// median returns the median of ds (0 for none).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
