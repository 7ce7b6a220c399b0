package lazyprom

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"unicode/utf8"
	"weak"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// outcome is how a task ended, as the outcome label says it.
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

// outcomeOf tells how h ended. A task its scheduler refused is "rejected"
// whatever its state, as Stats counts it.
func outcomeOf(h lazytask.Handle) outcome {
	if h.State() == lazytask.Succeeded {
		return succeeded
	}
	if h.Info().Rejected {
		return rejected
	}
	if h.State() == lazytask.Canceled {
		return canceled
	}
	if h.Info().Panicked { // its own panic, not a PanicError it returned
		return panicked
	}
	return failed
}

// DefaultBuckets are the bounds of the histograms, in seconds: from 10 µs
// (a no-op task) to 5 min (a batch job).
var DefaultBuckets = []float64{1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// An Option configures a Collector (New).
type Option interface{ apply(*config) error }

type config struct {
	namespace string
	buckets   []float64
	labels    prometheus.Labels
	forget    bool
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// WithNamespace sets the metric names' prefix (default "lazysched"): for
// "jobs", jobs_scope_queued and so on. It must be a valid metric name.
func WithNamespace(ns string) Option {
	return optionFunc(func(c *config) error {
		if !model.LegacyValidation.IsValidMetricName(ns) {
			return fmt.Errorf("%w: namespace %q", ErrInvalidOption, ns)
		}
		c.namespace = ns
		return nil
	})
}

// WithBuckets sets the bounds of the queue-time and run-time histograms,
// in seconds (default DefaultBuckets); they must be strictly increasing
// (so none is NaN) and there must be at least one.
func WithBuckets(bounds ...float64) Option {
	return optionFunc(func(c *config) error {
		if len(bounds) == 0 {
			return fmt.Errorf("%w: no buckets", ErrInvalidOption)
		}
		if math.IsNaN(bounds[0]) { // the loop below compares each later bound, not the first
			return fmt.Errorf("%w: bucket bound NaN in %v", ErrInvalidOption, bounds)
		}
		for i := 1; i < len(bounds); i++ {
			if !(bounds[i] > bounds[i-1]) { // also false for a NaN
				return fmt.Errorf("%w: buckets %v are not strictly increasing", ErrInvalidOption, bounds)
			}
		}
		c.buckets = append([]float64(nil), bounds...)
		return nil
	})
}

// WithConstLabels adds labels to every metric of the Collector (say, the
// name of the scheduler when a program has several). New refuses, with
// ErrInvalidOption, a name that is not a valid label name, one reserved to
// Prometheus (starting with "__"), one the metrics use ("scope",
// "outcome", and the histograms' "le"), and a value that is not valid
// UTF-8: a registry would refuse them, or every histogram observation
// would panic.
func WithConstLabels(labels prometheus.Labels) Option {
	return optionFunc(func(c *config) error {
		for k, v := range labels {
			switch {
			case !model.LabelName(k).IsValidLegacy() || strings.HasPrefix(k, "__"):
				return fmt.Errorf("%w: label name %q", ErrInvalidOption, k)
			case k == "scope" || k == "outcome" || k == "le":
				return fmt.Errorf("%w: label name %q is one the metrics use", ErrInvalidOption, k)
			case !utf8.ValidString(v):
				return fmt.Errorf("%w: the value of label %q is not valid UTF-8", ErrInvalidOption, k)
			}
		}
		c.labels = labels
		return nil
	})
}

// WithForgetScopes deletes the series of a scope once its program and its
// scheduler have let it go (the gauges, and its counters and histograms
// too), unless a scope still alive has the same path. Use it when scopes
// come and go under names without bound (one per host, per tenant, per
// request), so that the Collector's series do not grow without bound; a
// scope's counts then end with it, which a rate() over them survives
// (Prometheus sees the series end). Without it the counters and
// histograms of a scope let go stay.
func WithForgetScopes() Option {
	return optionFunc(func(c *config) error {
		c.forget = true
		return nil
	})
}

// Collector is a prometheus.Collector of the schedulers and scopes its
// Hooks are registered on. Make it with New; the zero value is not usable
// (its methods, like a nil Collector's, panic with a message that says so).
// It is safe for concurrent use and must not be copied; one Collector may serve several
// schedulers (whose scopes should then have different paths, or the
// series of two scopes would collide: give their roots names).
type Collector struct {
	_                             noCopy
	queued, running, inUse, limit *prometheus.Desc
	tasks                         *prometheus.CounterVec
	queueTime, runTime            *prometheus.HistogramVec
	scopes                        scopeSet

	// With WithForgetScopes: the live scopes of each path, under mu.
	mu   sync.Mutex
	refs map[string]int
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a Collector with the given options, or an error wrapping
// ErrInvalidOption. Register it (prometheus.Registry.Register) and its
// Hooks (scheduler.WithHooks).
func New(opts ...Option) (*Collector, error) {
	cfg := config{namespace: "lazysched", buckets: DefaultBuckets}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	ns, cl := cfg.namespace, cfg.labels
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "scope", name), help, []string{"scope"}, cl)
	}
	c := &Collector{
		queued:  desc("queued", "Tasks of the scope's subtree waiting in its queues."),
		running: desc("running", "Tasks of the scope's subtree running."),
		inUse:   desc("in_use_slots", "Slots of the scope's cap that its subtree's tasks take."),
		limit:   desc("limit_slots", "The scope's own cap; absent for a scope without one."),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "tasks_total", Help: "Tasks ended, by scope and outcome.", ConstLabels: cl,
		}, []string{"scope", "outcome"}),
		queueTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: "task", Name: "queue_seconds", ConstLabels: cl, Buckets: cfg.buckets,
			Help: "Time tasks waited between being queued and starting.",
		}, []string{"scope"}),
		runTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: "task", Name: "run_seconds", ConstLabels: cl, Buckets: cfg.buckets,
			Help: "Time tasks ran, by scope and outcome.",
		}, []string{"scope", "outcome"}),
	}
	c.scopes.make = c.newScopeInfo
	if cfg.forget {
		c.refs = make(map[string]int)
		c.scopes.release = c.release
	}
	return c, nil
}

func (c *Collector) newScopeInfo(sc *scheduler.Scope, wp weak.Pointer[scheduler.Scope]) *scopeInfo {
	path := scopePath(sc)
	if c.refs != nil {
		// The series are taken under mu, so that release cannot delete
		// them after this took them.
		c.mu.Lock()
		defer c.mu.Unlock()
		c.refs[path]++
	}
	info := &scopeInfo{wp: wp, path: path, queueTime: c.queueTime.WithLabelValues(path)}
	for o := range outcome(numOutcomes) {
		info.tasks[o] = c.tasks.WithLabelValues(path, o.String())
		info.runTime[o] = c.runTime.WithLabelValues(path, o.String())
	}
	return info
}

// release is the end of a scope of path (WithForgetScopes): the series of
// path are deleted with its last scope.
func (c *Collector) release(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refs[path]--; c.refs[path] > 0 {
		return
	}
	delete(c.refs, path)
	c.queueTime.DeleteLabelValues(path)
	for o := range outcome(numOutcomes) {
		c.tasks.DeleteLabelValues(path, o.String())
		c.runTime.DeleteLabelValues(path, o.String())
	}
	if released != nil {
		released(path)
	}
}

// released, when set (by the tests), is told of each path release deleted.
var released func(path string)

// Hooks returns the hooks to register with scheduler.WithHooks, on a
// scheduler or on a scope (its children inherit them). Register them once
// on a task's path: given to a scope and to one of its ancestors too, they
// see each of that scope's tasks twice, and count it twice.
func (c *Collector) Hooks() scheduler.Hooks {
	c.live()
	return scheduler.Hooks{OnQueue: c.onQueue, OnStart: c.onStart, OnDone: c.onDone, Timings: true} // the histograms
}

// Observe adds scopes (and their ancestors) to the gauges before the hooks
// have seen a task of theirs.
func (c *Collector) Observe(scopes ...*scheduler.Scope) {
	c.live()
	for _, sc := range scopes {
		if sc != nil {
			c.scopes.get(sc)
		}
	}
}

func (c *Collector) onQueue(_ context.Context, sc *scheduler.Scope, _ lazytask.Handle) {
	c.scopes.get(sc)
}

func (c *Collector) onStart(_ context.Context, sc *scheduler.Scope, h lazytask.Handle) context.Context {
	if tm := h.Timings(); !tm.Queued.IsZero() {
		c.scopes.get(sc).queueTime.Observe(tm.QueueTime().Seconds())
	}
	return nil
}

func (c *Collector) onDone(_ context.Context, sc *scheduler.Scope, h lazytask.Handle) {
	info := c.scopes.get(sc)
	o := outcomeOf(h)
	info.tasks[o].Inc()
	if tm := h.Timings(); !tm.Started.IsZero() {
		info.runTime[o].Observe(tm.RunTime().Seconds())
	}
}

// live returns c, or panics with a message that names the mistake for a
// nil or zero Collector (its hooks would panic in every task's steps).
func (c *Collector) live() *Collector {
	if c == nil || c.tasks == nil {
		panic("lazyprom: method called on a nil or zero *Collector (make one with New)")
	}
	return c
}

// Describe sends the descriptors of every metric of the Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	c.live()
	for _, d := range []*prometheus.Desc{c.queued, c.running, c.inUse, c.limit} {
		ch <- d
	}
	c.tasks.Describe(ch)
	c.queueTime.Describe(ch)
	c.runTime.Describe(ch)
}

// Collect sends the gauges of every scope observed, read now with
// Scope.Stats, and the counters and histograms the hooks have fed. Scopes
// that share a path (two children of one parent given one name) are
// summed, so that a scrape never holds one series twice. A scope its
// scheduler has released (canceled, timed out or shut down, with no task
// left) that the Collector still holds, until a garbage collection lets
// it go, is left out of the sum when a live scope has its path (a host's
// scope made again under its old name): its cap is no longer the tree's.
// A path whose scopes are all released shows them with one cap, the
// largest of theirs.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.live()
	type gauges struct {
		queued, running, inUse, limit, capped int
		released                              bool // every scope summed is released
	}
	byPath := map[string]*gauges{}
	var paths []string
	c.scopes.each(func(sc *scheduler.Scope, info *scopeInfo) {
		st := sc.Stats()
		gone := sc.Released()
		g := byPath[info.path]
		switch {
		case g == nil:
			g = &gauges{released: gone}
			byPath[info.path] = g
			paths = append(paths, info.path)
		case gone && !g.released:
			return // the path has a live scope
		case !gone && g.released:
			*g = gauges{} // its first live scope: the released ones go
		}
		g.queued += st.Queued
		g.running += st.Running
		g.inUse += st.InUse
		if !st.Unlimited {
			if gone {
				g.limit = max(g.limit, st.Limit)
			} else {
				g.limit += st.Limit
			}
			g.capped++
		}
	})
	for _, p := range paths {
		g := byPath[p]
		ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(g.queued), p)
		ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(g.running), p)
		ch <- prometheus.MustNewConstMetric(c.inUse, prometheus.GaugeValue, float64(g.inUse), p)
		if g.capped > 0 {
			ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(g.limit), p)
		}
	}
	c.tasks.Collect(ch)
	c.queueTime.Collect(ch)
	c.runTime.Collect(ch)
}

// noCopy makes go vet's copylocks check refuse copies of the types that
// hold it.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
