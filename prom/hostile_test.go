package lazyprom_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

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

// hServer serves reg with promhttp on 127.0.0.1; scrape fetches it and
// parses the text format, returning an error instead of failing the test,
// so that goroutines other than the test's may call it.
type hServer struct {
	srv    *httptest.Server
	client *http.Client
}

func hServe(t *testing.T, reg *prometheus.Registry) *hServer {
	t.Helper()
	h := &hServer{
		srv:    httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})),
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
	}
	t.Cleanup(h.srv.Close)
	require.True(t, strings.HasPrefix(h.srv.URL, "http://127.0.0.1:"), "served on 127.0.0.1: %s", h.srv.URL)
	return h
}

func (h *hServer) scrape() (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequest(http.MethodGet, h.srv.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("scrape status %d: %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// hCounts returns lazysched_tasks_total by scope and outcome, without the
// series at 0.
func hCounts(fams map[string]*dto.MetricFamily) map[[2]string]float64 {
	out := map[[2]string]float64{}
	for _, m := range fams["lazysched_tasks_total"].GetMetric() {
		if v := m.GetCounter().GetValue(); v != 0 {
			l := labels(m)
			out[[2]string{l["scope"], l["outcome"]}] += v
		}
	}
	return out
}

// hOutcome is the outcome label the collector must give a handle's end.
func hOutcome(h lazytask.Handle) string {
	if h.State() != lazytask.Succeeded && h.Info().Rejected {
		return "rejected"
	}
	switch h.State() {
	case lazytask.Succeeded:
		return "succeeded"
	case lazytask.Canceled:
		return "canceled"
	}
	if _, ok := errors.AsType[*lazytask.PanicError](h.Err()); ok {
		return "panicked"
	}
	return "failed"
}

func TestHostileScrapesWhileScopesComeAndGo(t *testing.T) {
	for _, forget := range []bool{false, true} {
		t.Run(fmt.Sprintf("forget=%v", forget), func(t *testing.T) {
			var opts []lazyprom.Option
			if forget {
				opts = append(opts, lazyprom.WithForgetScopes())
			}
			c := newCollector(t, opts...)
			reg := prometheus.NewPedanticRegistry()
			require.NoError(t, reg.Register(c))
			srv := hServe(t, reg)
			s := newSched(t, c, scheduler.WithLimit(4))

			const workers, rounds = 2, 40
			stop := make(chan struct{})
			tick := make(chan struct{}, 1)
			var scrapes atomic.Int64
			scrapeErrs := make(chan error, 64)
			var scraperDone sync.WaitGroup
			scraperDone.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					var err error
					if i%2 == 0 {
						_, err = reg.Gather()
					} else {
						_, err = srv.scrape()
					}
					if err != nil {
						select {
						case scrapeErrs <- err:
						default:
						}
					}
					scrapes.Add(1)
					select {
					case tick <- struct{}{}:
					default:
					}
				}
			})
			var wg sync.WaitGroup
			workErrs := make(chan error, workers)
			for w := range workers {
				wg.Go(func() {
					ctx := context.Background()
					for i := range rounds {
						sc, err := s.Root().NewScope(scheduler.WithName(fmt.Sprintf("w%d", i%4)))
						if err != nil {
							workErrs <- err
							return
						}
						h, err := scheduler.Go(sc, func(context.Context) error { return nil })
						if err == nil {
							err = h.Wait(ctx)
						}
						if err == nil {
							err = sc.Shutdown(ctx)
						}
						if err != nil {
							workErrs <- fmt.Errorf("worker %d round %d: %w", w, i, err)
							return
						}
						if i%5 == 4 {
							runtime.GC() // let scopes go while scrapes run
							<-tick       // and wait for a scrape to have run between
						}
					}
				})
			}
			wg.Wait()
			close(stop)
			scraperDone.Wait()
			close(workErrs)
			for err := range workErrs {
				require.NoError(t, err)
			}
			close(scrapeErrs)
			for err := range scrapeErrs {
				assert.NoError(t, err, "a scrape while scopes came and went")
			}
			assert.GreaterOrEqual(t, scrapes.Load(), int64(workers*rounds/5), "scrapes run alongside")
			require.NoError(t, s.Shutdown(bounded(t)))
			runtime.GC()
			fams, err := srv.scrape()
			require.NoError(t, err, "the scrape after the churn")
			_, err = reg.Gather()
			require.NoError(t, err, "Gather after the churn")
			counts := hCounts(fams)
			var total float64
			for k, v := range counts {
				assert.Equal(t, "succeeded", k[1], "outcome of %v", k)
				assert.True(t, strings.HasPrefix(k[0], "root/w"), "scope of %v", k)
				total += v
			}
			if forget {
				assert.LessOrEqual(t, total, float64(workers*rounds), "tasks counted with scopes forgotten")
				return
			}
			assert.Equal(t, map[[2]string]float64{
				{"root/w0", "succeeded"}: workers * rounds / 4, {"root/w1", "succeeded"}: workers * rounds / 4,
				{"root/w2", "succeeded"}: workers * rounds / 4, {"root/w3", "succeeded"}: workers * rounds / 4,
			}, counts, "tasks of the scopes that came and went")
		})
	}
}

func TestHostileRegisteringACollectorTwiceIsTheRegistrysError(t *testing.T) {
	c := newCollector(t)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	err := reg.Register(c)
	are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err)
	require.True(t, ok, "second Register of one collector: %v", err)
	assert.Same(t, c, are.ExistingCollector, "the collector already registered")

	// Another Collector with the same metrics collides with the first.
	twin := newCollector(t)
	err = reg.Register(twin)
	require.Error(t, err, "Register of a second collector with the same metrics")
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		assert.Same(t, c, are.ExistingCollector, "the collector the twin collides with")
	}
	assert.Panics(t, func() { reg.MustRegister(twin) }, "MustRegister of the twin")

	// Const labels set two collectors apart: both register and scrape.
	a := newCollector(t, lazyprom.WithConstLabels(prometheus.Labels{"scheduler": "a"}))
	b := newCollector(t, lazyprom.WithConstLabels(prometheus.Labels{"scheduler": "b"}))
	reg2 := prometheus.NewPedanticRegistry()
	require.NoError(t, reg2.Register(a))
	require.NoError(t, reg2.Register(b))
	sa, sb := newSched(t, a), newSched(t, b)
	for i, s := range []*scheduler.Scheduler{sa, sa, sb} {
		h, err := scheduler.Go(s, func(context.Context) error { return nil })
		require.NoError(t, err, "task %d", i)
		require.NoError(t, h.Wait(bounded(t)))
	}
	require.NoError(t, sa.Shutdown(bounded(t)))
	require.NoError(t, sb.Shutdown(bounded(t)))
	fams, err := hServe(t, reg2).scrape()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, m := range fams["lazysched_tasks_total"].GetMetric() {
		l := labels(m)
		if l["outcome"] == "succeeded" {
			got[l["scheduler"]] += m.GetCounter().GetValue()
		}
	}
	assert.Equal(t, map[string]float64{"a": 2, "b": 1}, got, "tasks by scheduler")
	assert.Len(t, byScopeAndLabel(fams, "lazysched_scope_limit_slots", "scheduler"), 2, "one root limit per collector")

	// Unregistered, the collector can come back.
	assert.True(t, reg.Unregister(c), "Unregister")
	assert.False(t, reg.Unregister(c), "a second Unregister")
	require.NoError(t, reg.Register(c), "Register again after Unregister")
}

// byScopeAndLabel returns a gauge family's values by scope and one label.
func byScopeAndLabel(fams map[string]*dto.MetricFamily, name, label string) map[[2]string]float64 {
	out := map[[2]string]float64{}
	for _, m := range fams[name].GetMetric() {
		l := labels(m)
		out[[2]string{l["scope"], l[label]}] = m.GetGauge().GetValue()
	}
	return out
}

func TestHostileOddScopeNamesSurviveAScrape(t *testing.T) {
	c := newCollector(t)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	srv := hServe(t, reg)
	s := newSched(t, c, scheduler.WithLimit(2))
	names := []string{`say "hi"`, "two\nlines", `back\slash`, "tab\there", "ünïcødé 日本語", "rocket 🚀", "{braces}=,", "a/b", " "}
	var scopes []*scheduler.Scope
	want := map[[2]string]float64{}
	for i, n := range names {
		sc, err := s.Root().NewScope(scheduler.WithName(n), scheduler.WithLimit(i+1))
		require.NoError(t, err)
		scopes = append(scopes, sc)
		h, err := scheduler.Go(sc, func(context.Context) error { return nil })
		require.NoError(t, err)
		require.NoError(t, h.Wait(bounded(t)))
		want[[2]string{"root/" + n, "succeeded"}]++
	}
	require.NoError(t, s.Shutdown(bounded(t)))

	fams, err := srv.scrape()
	require.NoError(t, err, "scrape with odd scope names")
	assert.Equal(t, want, hCounts(fams), "tasks by scope, names as given")
	limits := byScope(fams, "lazysched_scope_limit_slots")
	for i, n := range names {
		assert.Equal(t, float64(i+1), limits["root/"+n], "limit of scope %q", n)
	}
	// The protobuf exposition carries the same values.
	mfs, err := reg.Gather()
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() == "lazysched_scope_limit_slots" {
			for _, m := range mf.GetMetric() {
				seen[labels(m)["scope"]] = true
			}
		}
	}
	for _, n := range names {
		assert.True(t, seen["root/"+n], "Gather has scope %q", n)
	}
	runtime.KeepAlive(scopes)
}

func TestHostileInvalidUTF8ScopeNameNeitherCrashesNorLosesTasks(t *testing.T) {
	c := newCollector(t)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	srv := hServe(t, reg)
	var logged atomic.Int64
	logger := slog.New(hCountingHandler{n: &logged})
	s, err := scheduler.New(scheduler.WithLogger(logger), scheduler.WithHooks(c.Hooks()), scheduler.WithLimit(2))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	bad, err := s.Root().NewScope(scheduler.WithName("host-\xff\xfe"))
	require.NoError(t, err)
	const n = 3
	for range n {
		h, err := scheduler.Go(bad, func(context.Context) error { return nil })
		require.NoError(t, err)
		require.NoError(t, h.Wait(bounded(t)), "a task of the scope with a bad name still runs")
	}
	require.NoError(t, s.Shutdown(bounded(t)))

	// Collect on this goroutine first: a panic in the registry's own
	// goroutines would crash the test binary.
	var collectPanic any
	func() {
		defer func() { collectPanic = recover() }()
		ch := make(chan prometheus.Metric, 256)
		c.Collect(ch)
	}()
	require.Nil(t, collectPanic, "Collect with a scope name that is not UTF-8")
	fams, err := srv.scrape()
	require.NoError(t, err, "scrape with a scope name that is not UTF-8")
	var total float64
	for _, v := range hCounts(fams) {
		total += v
	}
	assert.Equal(t, float64(n), total, "tasks of the scope with a bad name counted")
	assert.Zero(t, logged.Load(), "scheduler log records")
	runtime.KeepAlive(bad)
}

// hCountingHandler is a slog handler that counts the records it gets.
type hCountingHandler struct{ n *atomic.Int64 }

func (h hCountingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h hCountingHandler) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}
func (h hCountingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h hCountingHandler) WithGroup(string) slog.Handler      { return h }

func TestHostileGaugesReturnToZeroAfterShutdownWithABacklog(t *testing.T) {
	c := newCollector(t)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	srv := hServe(t, reg)
	s := newSched(t, c, scheduler.WithLimit(3))
	crawl, err := s.Root().NewScope(scheduler.WithName("crawl"), scheduler.WithLimit(2))
	require.NoError(t, err)
	host, err := crawl.NewScope(scheduler.WithName("host"), scheduler.WithLimit(1))
	require.NoError(t, err)
	started := make(chan struct{}, 3)
	block := func(ctx context.Context) error { started <- struct{}{}; <-ctx.Done(); return ctx.Err() }
	var hs []lazytask.Handle
	for _, sp := range []scheduler.Spawner{s, crawl, host} {
		h, err := scheduler.Go(sp, block)
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for range 3 {
		<-started
	}
	for i := range 12 {
		sp := []scheduler.Spawner{s, crawl, host}[i%3]
		h, err := scheduler.Go(sp, func(context.Context) error { return nil })
		require.NoError(t, err)
		hs = append(hs, h)
	}
	fams, err := srv.scrape()
	require.NoError(t, err)
	assert.Equal(t, map[string]float64{"root": 12, "root/crawl": 8, "root/crawl/host": 4},
		byScope(fams, "lazysched_scope_queued"), "queued before Shutdown")
	assert.Equal(t, map[string]float64{"root": 3, "root/crawl": 2, "root/crawl/host": 1},
		byScope(fams, "lazysched_scope_running"), "running before Shutdown")

	over, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, s.Shutdown(over), context.Canceled, "Shutdown without grace")

	fams, err = srv.scrape()
	require.NoError(t, err)
	for _, name := range []string{"lazysched_scope_queued", "lazysched_scope_running", "lazysched_scope_in_use_slots"} {
		assert.Equal(t, map[string]float64{"root": 0, "root/crawl": 0, "root/crawl/host": 0}, byScope(fams, name), "%s after Shutdown", name)
	}
	assert.Equal(t, map[string]float64{"root": 3, "root/crawl": 2, "root/crawl/host": 1},
		byScope(fams, "lazysched_scope_limit_slots"), "caps after Shutdown")
	want := map[[2]string]float64{}
	for _, h := range hs {
		require.True(t, h.State().Terminal(), "every task ended")
		sc := "root"
		switch h.Info().Scope {
		case "crawl":
			sc = "root/crawl"
		case "host":
			sc = "root/crawl/host"
		}
		want[[2]string{sc, hOutcome(h)}]++
	}
	assert.Equal(t, want, hCounts(fams), "tasks by scope and outcome, as their handles ended")
	assert.Equal(t, map[[2]string]float64{{"root", "canceled"}: 5, {"root/crawl", "canceled"}: 5, {"root/crawl/host", "canceled"}: 5},
		hCounts(fams), "every task canceled by Shutdown, queued ones included")
	runtime.KeepAlive(host)
}

func TestHostileConcurrentSubmittersCountExactlyWhileScraped(t *testing.T) {
	const submitters, each = 8, 200
	c := newCollector(t)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	s := newSched(t, c, scheduler.WithLimit(4))
	parts := make([]*scheduler.Scope, 2)
	for i := range parts {
		sc, err := s.Root().NewScope(scheduler.WithName(fmt.Sprintf("part%d", i)))
		require.NoError(t, err)
		parts[i] = sc
	}
	stop := make(chan struct{})
	var gatherErr atomic.Pointer[error]
	var scraper sync.WaitGroup
	scraper.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := reg.Gather(); err != nil {
				gatherErr.CompareAndSwap(nil, &err)
			}
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, submitters)
	handles := make([][]lazytask.Handle, submitters)
	ctx := bounded(t)
	for g := range submitters {
		wg.Go(func() {
			for i := range each {
				fn := func(ctx context.Context) error {
					switch i % 4 {
					case 1:
						return errors.New("bad")
					case 2:
						panic("boom")
					case 3:
						lazytask.HandleOf(ctx).Cancel(nil)
						return ctx.Err()
					}
					return nil
				}
				h, err := scheduler.Go(parts[(g+i)%2], fn)
				if err != nil {
					errs <- err
					return
				}
				handles[g] = append(handles[g], h)
			}
			for _, h := range handles[g] {
				_ = h.Wait(ctx)
			}
		})
	}
	wg.Wait()
	close(stop)
	scraper.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	if p := gatherErr.Load(); p != nil {
		require.NoError(t, *p, "Gather while tasks ran")
	}
	require.NoError(t, s.Shutdown(bounded(t)))

	fams, err := hServe(t, reg).scrape()
	require.NoError(t, err)
	want := map[[2]string]float64{}
	for g := range submitters {
		require.Len(t, handles[g], each)
		for _, h := range handles[g] {
			want[[2]string{"root/" + h.Info().Scope, hOutcome(h)}]++
		}
	}
	got := hCounts(fams)
	assert.Equal(t, want, got, "tasks by scope and outcome")
	for _, sc := range []string{"root/part0", "root/part1"} {
		for _, oc := range []string{"succeeded", "failed", "panicked", "canceled"} {
			assert.Equal(t, float64(submitters*each/8), got[[2]string{sc, oc}], "%s %s", sc, oc)
		}
	}
	var runs, waits uint64
	for _, m := range fams["lazysched_task_run_seconds"].GetMetric() {
		runs += m.GetHistogram().GetSampleCount()
	}
	for _, m := range fams["lazysched_task_queue_seconds"].GetMetric() {
		waits += m.GetHistogram().GetSampleCount()
	}
	assert.Equal(t, uint64(submitters*each), runs, "run times observed: every task ran")
	assert.Equal(t, uint64(submitters*each), waits, "queue times observed: every task was queued")
	st := s.Stats()
	assert.Equal(t, uint64(submitters*each), st.Succeeded+st.Failed+st.Canceled, "the scheduler's own totals")
	runtime.KeepAlive(parts)
}

func TestHostileRefusedTasksAreCountedRejectedAsStatsCountsThem(t *testing.T) {
	c := newCollector(t)
	scrape := served(t, c)
	s := newSched(t, c, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
	hold, release := make(chan struct{}), make(chan struct{})
	holder, err := scheduler.Go(s, func(context.Context) error { close(hold); <-release; return nil })
	require.NoError(t, err)
	<-hold
	queued, err := scheduler.Go(s, func(context.Context) error { return nil })
	require.NoError(t, err)
	var refused []lazytask.Handle
	for range 3 {
		h, err := scheduler.Go(s, func(context.Context) error { return nil })
		require.ErrorIs(t, err, scheduler.ErrQueueFull)
		refused = append(refused, h)
	}
	h, err := scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithWeight(2))
	require.ErrorIs(t, err, scheduler.ErrWeightTooLarge)
	refused = append(refused, h)
	close(release)
	require.NoError(t, holder.Wait(bounded(t)))
	require.NoError(t, queued.Wait(bounded(t)))
	require.NoError(t, s.Shutdown(bounded(t)))
	h, err = scheduler.Go(s, func(context.Context) error { return nil })
	require.ErrorIs(t, err, scheduler.ErrClosed)
	refused = append(refused, h)

	for _, h := range refused {
		assert.Equal(t, "rejected", hOutcome(h), "outcome of a refused task")
	}
	st := s.Stats()
	assert.Equal(t, map[[2]string]float64{{"root", "succeeded"}: 2, {"root", "rejected"}: float64(st.Rejected)},
		hCounts(scrape()), "tasks by outcome, as Stats counts them")
	assert.Equal(t, uint64(5), st.Rejected, "Stats().Rejected")
}
