// Command crawler crawls a small web of local test servers (one per host)
// with nested caps: at most -overall requests in flight in all, and at
// most -per-host on any one host. The caps are scheduler scopes: a "crawl"
// scope with the overall cap, and a child scope per host with its own cap,
// nested inside it. Ctrl-C stops the crawl: queued fetches never run,
// running ones are canceled.
//
//	go run ./factory/internal/examples/crawler -hosts 3 -pages 10
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func main() {
	hosts := flag.Int("hosts", 3, "test servers (hosts) to crawl")
	pages := flag.Int("pages", 10, "pages per host")
	overall := flag.Int("overall", 4, "requests in flight in all")
	perHost := flag.Int("per-host", 2, "requests in flight per host")
	latency := flag.Duration("latency", 20*time.Millisecond, "how long the test servers take to answer")
	flag.Parse()

	os.Exit(scheduler.Main(func(ctx context.Context, s *scheduler.Scheduler) error {
		web := newWeb(*hosts, *pages, *latency, nil)
		defer web.Close()
		found, err := run(ctx, s, web.Start(), *overall, *perHost, web.Client())
		fmt.Print(web.Report(found, *overall, *perHost))
		return err
	}, 5*time.Second))
}

// run crawls from start in s: it fetches every page it finds a link to,
// once, with at most overall fetches in flight and at most perHost per
// host, and returns the pages found, sorted. It stops early when ctx ends,
// and returns the crawl's errors joined.
func run(ctx context.Context, s *scheduler.Scheduler, start string, overall, perHost int, client *http.Client) ([]string, error) {
	c := &crawler{client: client, perHost: perHost, hosts: map[string]*scheduler.Scope{}, seen: map[string]bool{}}
	var err error
	c.crawl, err = s.Root().NewScope(scheduler.WithName("crawl"), scheduler.WithLimit(overall),
		scheduler.Supervise(func(_ lazytask.Info, err error) { c.fail(err) }))
	if err != nil {
		return nil, err
	}
	c.visit(start)
	// Wait sees the fetches that fetches submit, too.
	if err := c.crawl.Wait(ctx); err != nil {
		c.crawl.Cancel(err)
		c.fail(err)
	}
	_ = c.crawl.Shutdown(context.Background())

	c.mu.Lock()
	defer c.mu.Unlock()
	found := make([]string, 0, len(c.seen))
	for u := range c.seen {
		found = append(found, u)
	}
	slices.Sort(found)
	return found, errors.Join(c.errs...)
}

type crawler struct {
	client  *http.Client
	crawl   *scheduler.Scope
	perHost int

	mu    sync.Mutex
	hosts map[string]*scheduler.Scope // a scope per host, capped
	seen  map[string]bool
	errs  []error
}

func (c *crawler) fail(err error) {
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

// visit fetches u, once, as a task of its host's scope.
func (c *crawler) visit(u string) {
	parsed, err := url.Parse(u)
	if err != nil {
		c.fail(err)
		return
	}
	c.mu.Lock()
	if c.seen[u] {
		c.mu.Unlock()
		return
	}
	c.seen[u] = true
	host, ok := c.hosts[parsed.Host]
	if !ok {
		host, err = c.crawl.NewScope(scheduler.WithName(parsed.Host), scheduler.WithLimit(c.perHost))
		if err != nil {
			c.mu.Unlock()
			c.fail(err)
			return
		}
		c.hosts[parsed.Host] = host
	}
	c.mu.Unlock()
	// The host scope is a factory.Factory: fetch does not care where it
	// runs, the scopes decide.
	_, err = factory.Go(host, func(ctx context.Context) error {
		links, err := c.fetch(ctx, u)
		for _, l := range links {
			c.visit(l)
		}
		return err
	}, lazytask.WithName(u))
	if err != nil && !errors.Is(err, scheduler.ErrScopeCanceled) {
		c.fail(err)
	}
}

// fetch gets u and returns the links on the page: one URL a line.
func (c *crawler) fetch(ctx context.Context, u string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var links []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			links = append(links, l)
		}
	}
	return links, sc.Err()
}

// web is a set of local test servers, one per host, that link to each
// other, and count the requests they serve at once.
type web struct {
	servers []*httptest.Server
	client  *http.Client
	pages   int
	latency time.Duration

	inFlight, peak atomic.Int32 // all hosts
	hosts          []hostStats
	onRequest      func() // tests: a request arrived
}

type hostStats struct {
	inFlight, peak, served atomic.Int32
}

// newWeb starts n servers of pages pages each. Page k of host i links to
// page k+1 of host i and page k of host i+1 (both wrapping around).
// onRequest, if not nil, is called as each request arrives.
func newWeb(n, pages int, latency time.Duration, onRequest func()) *web {
	w := &web{pages: pages, latency: latency, hosts: make([]hostStats, n), onRequest: onRequest}
	for i := range n {
		w.servers = append(w.servers, httptest.NewServer(w.handler(i)))
	}
	w.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	return w
}

func (w *web) Start() string        { return w.servers[0].URL + "/p/0" }
func (w *web) Client() *http.Client { return w.client }
func (w *web) page(i, k int) string {
	return fmt.Sprintf("%s/p/%d", w.servers[i%len(w.servers)].URL, k%w.pages)
}
func (w *web) total() int { return len(w.servers) * w.pages }
func peakOf(peak *atomic.Int32, n int32) {
	for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
	}
}

func (w *web) handler(i int) http.Handler {
	h := &w.hosts[i]
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		peakOf(&h.peak, h.inFlight.Add(1))
		peakOf(&w.peak, w.inFlight.Add(1))
		defer w.inFlight.Add(-1)
		defer h.inFlight.Add(-1)
		h.served.Add(1)
		if w.onRequest != nil {
			w.onRequest()
		}
		var k int
		if _, err := fmt.Sscanf(r.URL.Path, "/p/%d", &k); err != nil || k < 0 || k >= w.pages {
			http.NotFound(rw, r)
			return
		}
		t := time.NewTimer(w.latency) // a slow network
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintln(rw, w.page(i, k+1))
		fmt.Fprintln(rw, w.page(i+1, k))
	})
}

// Report says what the crawl found and whether the caps held.
func (w *web) Report(found []string, overall, perHost int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "found %d of %d pages\n", len(found), w.total())
	held := true
	for i := range w.hosts {
		h := &w.hosts[i]
		fmt.Fprintf(&b, "host %d: %d requests, at most %d at once\n", i, h.served.Load(), h.peak.Load())
		held = held && int(h.peak.Load()) <= perHost
	}
	fmt.Fprintf(&b, "per-host cap %d held: %v; overall cap %d held: %v\n", perHost, held, overall, int(w.peak.Load()) <= overall)
	return b.String()
}

func (w *web) Close() {
	w.client.CloseIdleConnections()
	for _, s := range w.servers {
		s.Close()
	}
}
