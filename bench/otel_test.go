package bench

import (
	"context"
	"slices"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
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

// BenchmarkOtel is W1 (1,000,000 no-op tasks, cap 8, every handle kept
// and awaited) three ways in rotated rounds: no hooks ("none"), four hooks
// that do nothing ("empty"), and lazyotel's hooks ("otel") over a real SDK
// tracer provider (every span sampled and recorded, then dropped) and a
// real meter provider with a manual reader; and, to tell the metrics'
// share, "otel-metrics": lazyotel with tracing off. "ratios" reports empty/none
// and otel/none, from the medians of the rounds' ns/task. Targets:
// empty <= 1.10x none, otel <= 2x none.
func BenchmarkOtel(b *testing.B) {
	n := scaled(1_000_000)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(dropSpans{}))
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
	rs := []runner{
		lazyRunner{label: "none"},
		lazyRunner{label: "empty", opts: []scheduler.SchedulerOption{scheduler.WithHooks(scheduler.Hooks{
			OnCreate: empty, OnQueue: empty, OnStart: emptyStart, OnDone: empty,
		})}},
		lazyRunner{label: "otel", opts: []scheduler.SchedulerOption{scheduler.WithHooks(obs.Hooks())}},
		lazyRunner{label: "otel-metrics", opts: []scheduler.SchedulerOption{scheduler.WithHooks(metricsOnly.Hooks())}},
	}
	times := map[string][]time.Duration{}
	eachRound(b, rounds, rs, func(b *testing.B, r runner) {
		times[r.name()] = append(times[r.name()], measure(b, n, func() { r.run(n, 8, 1, noop) }))
	})
	b.Run("ratios", func(b *testing.B) {
		none := median(times["none"])
		if none <= 0 {
			b.Skip("no time measured for none (filtered out?)")
		}
		b.ReportMetric(float64(median(times["empty"]))/float64(none), "empty/none")
		b.ReportMetric(float64(median(times["otel"]))/float64(none), "otel/none")
		b.ReportMetric(float64(median(times["otel-metrics"]))/float64(none), "metrics/none")
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
