package lazyotel_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	lazyotel "github.com/lazysched/lazysched/otel"
	"github.com/lazysched/lazysched/scheduler"
)

// rig is a real SDK tracer provider recording ended spans, a real meter
// provider read by hand, and an Observer over both.
type rig struct {
	rec    *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	obs    *lazyotel.Observer
}

func newRig(t *testing.T, opts ...lazyotel.Option) *rig {
	t.Helper()
	r := &rig{rec: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.rec))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	t.Cleanup(func() {
		require.NoError(t, r.tp.Shutdown(context.Background()), "tracer provider Shutdown")
		require.NoError(t, mp.Shutdown(context.Background()), "meter provider Shutdown")
	})
	obs, err := lazyotel.New(append([]lazyotel.Option{lazyotel.WithTracerProvider(r.tp), lazyotel.WithMeterProvider(mp)}, opts...)...)
	require.NoError(t, err, "lazyotel.New")
	t.Cleanup(func() { require.NoError(t, obs.Close(), "Observer.Close") })
	r.obs = obs
	return r
}

// sched makes a scheduler with the rig's hooks and a quiet logger; it is
// shut down when the test ends (and may be shut down earlier to wait for
// every hook).
func (r *rig) sched(t *testing.T, opts ...scheduler.SchedulerOption) *scheduler.Scheduler {
	t.Helper()
	base := []scheduler.SchedulerOption{scheduler.WithLogger(slog.New(slog.DiscardHandler)), scheduler.WithHooks(r.obs.Hooks())}
	s, err := scheduler.New(append(base, opts...)...)
	require.NoError(t, err, "scheduler.New")
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

// span returns the one ended span named name.
func (r *rig) span(t *testing.T, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range r.rec.Ended() {
		if s.Name() == name {
			found = append(found, s)
		}
	}
	require.Len(t, found, 1, "ended spans named %q", name)
	return found[0]
}

// collect reads the meter provider's metrics now.
func (r *rig) collect(t *testing.T) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm), "ManualReader.Collect")
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// attrs returns a span's attributes as a map.
func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// bounded is a context that ends a test stuck on a bug instead of hanging.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// shutdown shuts s down and so waits until every hook has run.
func shutdown(t *testing.T, s *scheduler.Scheduler) {
	t.Helper()
	require.NoError(t, s.Shutdown(bounded(t)), "Scheduler.Shutdown")
}
