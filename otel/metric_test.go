package lazyotel_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"
	nooptrace "go.opentelemetry.io/otel/trace/noop"

	"github.com/lazysched/lazysched/lazytask"
	lazyotel "github.com/lazysched/lazysched/otel"
	"github.com/lazysched/lazysched/scheduler"
)

// scopeOutcome is the key of a measurement by scope and outcome.
type scopeOutcome struct{ scope, outcome string }

func keyOf(set attribute.Set) scopeOutcome {
	sc, _ := set.Value("lazysched.scope")
	oc, _ := set.Value("lazysched.task.outcome")
	return scopeOutcome{sc.AsString(), oc.AsString()}
}

func TestMetricsCountTasksByScopeAndOutcomeAndTimeThem(t *testing.T) {
	r := newRig(t)
	s := r.sched(t, scheduler.WithLimit(2))
	jobs, err := s.Root().NewScope(scheduler.WithName("jobs"))
	require.NoError(t, err)
	var hs []lazytask.Handle
	for i := range 10 {
		sp := scheduler.Spawner(s)
		if i%2 == 1 {
			sp = jobs
		}
		h, err := scheduler.Go(sp, func(ctx context.Context) error {
			switch i {
			case 3:
				return errors.New("bad")
			case 5:
				panic("boom")
			}
			return nil
		})
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for _, h := range hs {
		_ = h.Wait(bounded(t))
	}
	shutdown(t, s)

	got := r.collect(t)
	sum, ok := got["lazysched.tasks"].(metricdata.Sum[int64])
	require.True(t, ok, "lazysched.tasks is an int64 sum: %T", got["lazysched.tasks"])
	assert.True(t, sum.IsMonotonic, "lazysched.tasks is a counter")
	counts := map[scopeOutcome]int64{}
	for _, dp := range sum.DataPoints {
		counts[keyOf(dp.Attributes)] += dp.Value
	}
	assert.Equal(t, map[scopeOutcome]int64{
		{"root", "succeeded"}:      5,
		{"root/jobs", "succeeded"}: 3,
		{"root/jobs", "failed"}:    1,
		{"root/jobs", "panicked"}:  1,
	}, counts, "tasks by scope and outcome")

	run, ok := got["lazysched.task.run_time"].(metricdata.Histogram[float64])
	require.True(t, ok, "lazysched.task.run_time is a float64 histogram: %T", got["lazysched.task.run_time"])
	runs := map[scopeOutcome]uint64{}
	for _, dp := range run.DataPoints {
		runs[keyOf(dp.Attributes)] += dp.Count
		least, ok := dp.Min.Value()
		assert.True(t, ok, "run time histogram of %v has a minimum", keyOf(dp.Attributes))
		assert.GreaterOrEqual(t, least, 0.0, "shortest run time of %v", keyOf(dp.Attributes))
	}
	assert.Equal(t, map[scopeOutcome]uint64{
		{"root", "succeeded"}: 5, {"root/jobs", "succeeded"}: 3, {"root/jobs", "failed"}: 1, {"root/jobs", "panicked"}: 1,
	}, runs, "run times recorded by scope and outcome")

	queue, ok := got["lazysched.task.queue_time"].(metricdata.Histogram[float64])
	require.True(t, ok, "lazysched.task.queue_time is a float64 histogram: %T", got["lazysched.task.queue_time"])
	waits := map[scopeOutcome]uint64{}
	for _, dp := range queue.DataPoints {
		waits[keyOf(dp.Attributes)] += dp.Count
	}
	assert.Equal(t, map[scopeOutcome]uint64{{"root", ""}: 5, {"root/jobs", ""}: 5}, waits, "queue times recorded by scope")
	assert.Equal(t, "s", unitOf(t, r, "lazysched.task.queue_time"), "unit of the queue time")
}

func unitOf(t *testing.T, r *rig, name string) string {
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m.Unit
			}
		}
	}
	return ""
}

// gauges returns the value of each scope gauge, by scope.
func gauges(t *testing.T, r *rig) map[string]map[string]int64 {
	t.Helper()
	got := r.collect(t)
	out := map[string]map[string]int64{}
	for _, name := range []string{"lazysched.scope.queued", "lazysched.scope.running", "lazysched.scope.in_use", "lazysched.scope.limit"} {
		g, ok := got[name].(metricdata.Gauge[int64])
		require.True(t, ok, "%s is an int64 gauge: %T", name, got[name])
		for _, dp := range g.DataPoints {
			sc, _ := dp.Attributes.Value("lazysched.scope")
			if out[sc.AsString()] == nil {
				out[sc.AsString()] = map[string]int64{}
			}
			out[sc.AsString()][name[len("lazysched.scope."):]] = dp.Value
		}
	}
	return out
}

func TestGaugesShowEachScopesQueueRunningSlotsAndCap(t *testing.T) {
	r := newRig(t)
	s := r.sched(t, scheduler.WithLimit(4))
	host, err := s.Root().NewScope(scheduler.WithName("host"), scheduler.WithLimit(2))
	require.NoError(t, err)
	idle, err := s.Root().NewScope(scheduler.WithName("idle"))
	require.NoError(t, err)
	r.obs.Observe(idle, nil)
	started, release := make(chan struct{}, 1), make(chan struct{})
	var hs []lazytask.Handle
	for range 5 {
		h, err := scheduler.Go(host, func(context.Context) error { started <- struct{}{}; <-release; return nil })
		require.NoError(t, err)
		hs = append(hs, h)
	}
	<-started
	<-started // two run (host's cap), three wait
	assert.Equal(t, map[string]map[string]int64{
		"root":      {"queued": 3, "running": 2, "in_use": 2, "limit": 4},
		"root/host": {"queued": 3, "running": 2, "in_use": 2, "limit": 2},
		"root/idle": {"queued": 0, "running": 0, "in_use": 0},
	}, gauges(t, r), "gauges with two tasks running and three queued")
	close(release)
	for range 3 {
		<-started
	}
	for _, h := range hs {
		require.NoError(t, h.Wait(bounded(t)))
	}
	shutdown(t, s)
	assert.Equal(t, map[string]int64{"queued": 0, "running": 0, "in_use": 0, "limit": 2},
		gauges(t, r)["root/host"], "host's gauges once every task has ended")
}

// With the API's no-op tracer provider the Observer only measures: the
// tasks are counted and timed as with a real one, no span is started,
// and each task runs with its own context, its carried span on top.
func TestNoopTracerProviderMeasuresWithoutSpans(t *testing.T) {
	r := newRig(t, lazyotel.WithTracerProvider(nooptrace.NewTracerProvider()))
	s := r.sched(t, scheduler.WithLimit(1))
	parent, span := r.tp.Tracer("test").Start(context.Background(), "request")
	hold := make(chan struct{})
	first, err := scheduler.Go(s, func(context.Context) error { <-hold; return nil })
	require.NoError(t, err)
	seen := make(chan trace.SpanContext, 1)
	second, err := scheduler.Go(s, func(ctx context.Context) error {
		seen <- trace.SpanContextFromContext(ctx)
		return errors.New("bad")
	}, lazytask.WithContext(parent))
	require.NoError(t, err)
	require.Equal(t, lazytask.Queued, second.State(), "the second task waits behind the first")
	close(hold)
	require.NoError(t, first.Wait(bounded(t)))
	require.Error(t, second.Wait(bounded(t)))
	span.End()
	shutdown(t, s)

	assert.Equal(t, span.SpanContext(), <-seen, "the task's context has the carried span on top, no span of its own")
	ended := r.rec.Ended()
	require.Len(t, ended, 1, "only the request's span ended")
	assert.Equal(t, "request", ended[0].Name())

	got := r.collect(t)
	sum, ok := got["lazysched.tasks"].(metricdata.Sum[int64])
	require.True(t, ok, "lazysched.tasks: %T", got["lazysched.tasks"])
	counts := map[scopeOutcome]int64{}
	for _, dp := range sum.DataPoints {
		counts[keyOf(dp.Attributes)] += dp.Value
	}
	assert.Equal(t, map[scopeOutcome]int64{{"root", "succeeded"}: 1, {"root", "failed"}: 1}, counts, "tasks by outcome")
	queue, ok := got["lazysched.task.queue_time"].(metricdata.Histogram[float64])
	require.True(t, ok, "lazysched.task.queue_time: %T", got["lazysched.task.queue_time"])
	var queued uint64
	for _, dp := range queue.DataPoints {
		queued += dp.Count
	}
	assert.Equal(t, uint64(2), queued, "queue times recorded")
	run, ok := got["lazysched.task.run_time"].(metricdata.Histogram[float64])
	require.True(t, ok, "lazysched.task.run_time: %T", got["lazysched.task.run_time"])
	var runs uint64
	for _, dp := range run.DataPoints {
		runs += dp.Count
	}
	assert.Equal(t, uint64(2), runs, "run times recorded")
}
