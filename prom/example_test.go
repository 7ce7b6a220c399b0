package lazyprom_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	lazyprom "github.com/lazysched/lazysched/prom"
	"github.com/lazysched/lazysched/scheduler"
)

// A scheduler's collector registered and served with promhttp; the scrape
// shows the tasks by outcome.
func Example() {
	c, err := lazyprom.New()
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithHooks(c.Hooks()))
	if err != nil {
		panic(err)
	}
	for range 10 {
		scheduler.Go(s, func(ctx context.Context) error { return nil })
	}
	s.Shutdown(context.Background()) // every task has ended, every hook has run

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "lazysched_tasks_total") || strings.HasPrefix(line, "lazysched_scope_limit") {
			fmt.Println(line)
		}
	}
	// Output:
	// lazysched_scope_limit_slots{scope="root"} 4
	// lazysched_tasks_total{outcome="canceled",scope="root"} 0
	// lazysched_tasks_total{outcome="failed",scope="root"} 0
	// lazysched_tasks_total{outcome="panicked",scope="root"} 0
	// lazysched_tasks_total{outcome="rejected",scope="root"} 0
	// lazysched_tasks_total{outcome="succeeded",scope="root"} 10
}
