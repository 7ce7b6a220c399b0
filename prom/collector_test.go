package lazyprom_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	lazyprom "github.com/lazysched/lazysched/prom"
	"github.com/lazysched/lazysched/scheduler"
)

// served registers c in a pedantic registry (it checks that what Collect
// sends matches Describe) served by promhttp on a 127.0.0.1 listener, and
// returns a function that scrapes it over HTTP and parses the text.
func served(t *testing.T, c prometheus.Collector) func() map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c), "Registry.Register")
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	return func() map[string]*dto.MetricFamily {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
		resp, err := client.Do(req)
		require.NoError(t, err, "scrape")
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "scrape status")
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		require.NoError(t, err, "parsing the scrape")
		return fams
	}
}

func newCollector(t *testing.T, opts ...lazyprom.Option) *lazyprom.Collector {
	t.Helper()
	c, err := lazyprom.New(opts...)
	require.NoError(t, err, "lazyprom.New")
	return c
}

func newSched(t *testing.T, c *lazyprom.Collector, opts ...scheduler.SchedulerOption) *scheduler.Scheduler {
	t.Helper()
	base := []scheduler.SchedulerOption{scheduler.WithLogger(slog.New(slog.DiscardHandler)), scheduler.WithHooks(c.Hooks())}
	s, err := scheduler.New(append(base, opts...)...)
	require.NoError(t, err, "scheduler.New")
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// byScope returns a gauge family's values by scope label.
func byScope(fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range fams[name].GetMetric() {
		out[labels(m)["scope"]] = m.GetGauge().GetValue()
	}
	return out
}

func TestScrapeShowsEachScopesQueueRunningSlotsAndCap(t *testing.T) {
	c := newCollector(t)
	scrape := served(t, c)
	s := newSched(t, c, scheduler.WithLimit(4))
	host, err := s.Root().NewScope(scheduler.WithName("host"), scheduler.WithLimit(2))
	require.NoError(t, err)
	started, release := make(chan struct{}, 1), make(chan struct{})
	var hs []lazytask.Handle
	for range 5 {
		h, err := scheduler.Go(host, func(context.Context) error { started <- struct{}{}; <-release; return nil }, lazytask.WithWeight(1))
		require.NoError(t, err)
		hs = append(hs, h)
	}
	<-started
	<-started // two run (host's cap), three wait
	fams := scrape()
	assert.Equal(t, map[string]float64{"root": 3, "root/host": 3}, byScope(fams, "lazysched_scope_queued"), "queued")
	assert.Equal(t, map[string]float64{"root": 2, "root/host": 2}, byScope(fams, "lazysched_scope_running"), "running")
	assert.Equal(t, map[string]float64{"root": 2, "root/host": 2}, byScope(fams, "lazysched_scope_in_use_slots"), "in use")
	assert.Equal(t, map[string]float64{"root": 4, "root/host": 2}, byScope(fams, "lazysched_scope_limit_slots"), "caps")
	assert.Equal(t, dto.MetricType_GAUGE, fams["lazysched_scope_queued"].GetType(), "type of the queued family")
	close(release)
	for range 3 {
		<-started
	}
	for _, h := range hs {
		require.NoError(t, h.Wait(bounded(t)))
	}
	require.NoError(t, s.Shutdown(bounded(t)))
	fams = scrape()
	assert.Equal(t, map[string]float64{"root": 0, "root/host": 0}, byScope(fams, "lazysched_scope_running"), "running once all ended")
}

func TestScrapeCountsAndTimesTasksByScopeAndOutcome(t *testing.T) {
	c := newCollector(t)
	scrape := served(t, c)
	s := newSched(t, c, scheduler.WithLimit(1))
	jobs, err := s.Root().NewScope(scheduler.WithName("jobs"))
	require.NoError(t, err)
	hold, release := make(chan struct{}), make(chan struct{})
	holder, err := scheduler.Go(jobs, func(context.Context) error { close(hold); <-release; return nil })
	require.NoError(t, err)
	<-hold
	var hs []lazytask.Handle
	for _, fn := range []func(context.Context) error{
		func(context.Context) error { return nil },
		func(context.Context) error { return errors.New("bad") },
		func(context.Context) error { panic("boom") },
	} {
		h, err := scheduler.Go(jobs, fn)
		require.NoError(t, err)
		hs = append(hs, h)
	}
	never, err := scheduler.Go(jobs, func(context.Context) error { return nil })
	require.NoError(t, err)
	require.True(t, never.Cancel(nil), "Cancel of a queued task")
	close(release)
	require.NoError(t, holder.Wait(bounded(t)))
	for _, h := range hs {
		_ = h.Wait(bounded(t))
	}
	require.NoError(t, s.Shutdown(bounded(t))) // every OnDone hook has run

	fams := scrape()
	tasks := fams["lazysched_tasks_total"]
	require.NotNil(t, tasks, "lazysched_tasks_total in the scrape")
	assert.Equal(t, dto.MetricType_COUNTER, tasks.GetType(), "type of lazysched_tasks_total")
	counts := map[[2]string]float64{}
	for _, m := range tasks.GetMetric() {
		l := labels(m)
		counts[[2]string{l["scope"], l["outcome"]}] = m.GetCounter().GetValue()
	}
	assert.Equal(t, map[[2]string]float64{
		{"root/jobs", "succeeded"}: 2, {"root/jobs", "failed"}: 1, {"root/jobs", "panicked"}: 1, {"root/jobs", "canceled"}: 1, {"root/jobs", "rejected"}: 0,
		{"root", "succeeded"}: 0, {"root", "failed"}: 0, {"root", "panicked"}: 0, {"root", "canceled"}: 0, {"root", "rejected"}: 0,
	}, counts, "tasks by scope and outcome")

	runs := map[[2]string]uint64{}
	for _, m := range fams["lazysched_task_run_seconds"].GetMetric() {
		l := labels(m)
		if n := m.GetHistogram().GetSampleCount(); n > 0 {
			runs[[2]string{l["scope"], l["outcome"]}] = n
		}
	}
	assert.Equal(t, map[[2]string]uint64{
		{"root/jobs", "succeeded"}: 2, {"root/jobs", "failed"}: 1, {"root/jobs", "panicked"}: 1,
	}, runs, "run times observed (none for the task that never ran)")

	var waited uint64
	var waitSum float64
	for _, m := range fams["lazysched_task_queue_seconds"].GetMetric() {
		if labels(m)["scope"] == "root/jobs" {
			waited, waitSum = m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
			buckets := m.GetHistogram().GetBucket()
			require.Len(t, buckets, len(lazyprom.DefaultBuckets)+1, "buckets of the queue-time histogram, +Inf included")
		}
	}
	assert.Equal(t, uint64(4), waited, "queue times observed: the holder and the three that ran")
	assert.Greater(t, waitSum, 0.0, "total wait of tasks queued behind the holder")
}

func TestOptionsNameAndLabelTheMetrics(t *testing.T) {
	c := newCollector(t, lazyprom.WithNamespace("jobs"), lazyprom.WithBuckets(0.001, 1),
		lazyprom.WithConstLabels(prometheus.Labels{"scheduler": "mail"}))
	scrape := served(t, c)
	s := newSched(t, c)
	h, err := scheduler.Go(s, func(context.Context) error { return nil })
	require.NoError(t, err)
	require.NoError(t, h.Wait(bounded(t)))
	require.NoError(t, s.Shutdown(bounded(t)))
	fams := scrape()
	require.Contains(t, fams, "jobs_tasks_total", "a counter under the namespace")
	require.Contains(t, fams, "jobs_scope_queued", "a gauge under the namespace")
	assert.NotContains(t, fams, "lazysched_tasks_total", "the default namespace")
	m := fams["jobs_tasks_total"].GetMetric()[0]
	assert.Equal(t, "mail", labels(m)["scheduler"], "const label")
	run := fams["jobs_task_run_seconds"].GetMetric()
	require.NotEmpty(t, run)
	assert.Len(t, run[0].GetHistogram().GetBucket(), 3, "buckets set by WithBuckets, +Inf included")
}

func TestScopesThatShareAPathAreSummedNotDuplicated(t *testing.T) {
	c := newCollector(t)
	scrape := served(t, c)
	s := newSched(t, c)
	a, err := s.Root().NewScope(scheduler.WithName("twin"), scheduler.WithLimit(2))
	require.NoError(t, err)
	b, err := s.Root().NewScope(scheduler.WithName("twin"), scheduler.WithLimit(3))
	require.NoError(t, err)
	c.Observe(a, b)
	fams := scrape() // the pedantic registry fails the scrape on a duplicate series
	assert.Equal(t, map[string]float64{"root/twin": 5, "root": float64(s.Stats().Limit)}, byScope(fams, "lazysched_scope_limit_slots"), "caps of two scopes named alike")
}

func TestNewRefusesBadOptions(t *testing.T) {
	for name, opt := range map[string]lazyprom.Option{
		"namespace with a dash":   lazyprom.WithNamespace("my-jobs"),
		"empty namespace":         lazyprom.WithNamespace(""),
		"no buckets":              lazyprom.WithBuckets(),
		"buckets out of order":    lazyprom.WithBuckets(1, 0.5),
		"equal buckets":           lazyprom.WithBuckets(1, 1),
		"bad label name":          lazyprom.WithConstLabels(prometheus.Labels{"a-b": "x"}),
		"label taken by a metric": lazyprom.WithConstLabels(prometheus.Labels{"scope": "x"}),
		"the histograms' le":      lazyprom.WithConstLabels(prometheus.Labels{"le": "1"}),
		"a reserved label name":   lazyprom.WithConstLabels(prometheus.Labels{"__x": "1"}),
		"a value not UTF-8":       lazyprom.WithConstLabels(prometheus.Labels{"host": "\xff"}),
	} {
		_, err := lazyprom.New(opt)
		assert.ErrorIs(t, err, lazyprom.ErrInvalidOption, "New with %s", name)
	}
}
