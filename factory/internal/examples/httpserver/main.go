// Command httpserver is an HTTP server that drains on Ctrl-C.
//
// Every request is a task of a handler scope capped at -max requests; the
// excess waits in the scope's queue. The first Ctrl-C stops accepting,
// closes idle connections and lets the requests in flight finish for
// -grace (http.Server.Shutdown); then they are canceled and their
// connections closed. A second Ctrl-C cancels at once.
//
//	go run ./factory/internal/examples/httpserver -addr 127.0.0.1:8080
//	curl '127.0.0.1:8080/work?ms=3000'   # then Ctrl-C the server
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	max := flag.Int("max", 32, "requests handled at once")
	grace := flag.Duration("grace", 10*time.Second, "how long requests may finish after Ctrl-C")
	flag.Parse()
	os.Exit(serve(*addr, *max, *grace, routes(), func(a net.Addr) {
		fmt.Fprintf(os.Stderr, "httpserver: listening on http://%v\n", a)
	}))
}

// routes is the server's API: /hello answers at once, /work?ms=N works
// for N milliseconds unless the request is canceled first.
func routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from task %q\n", lazytask.HandleOf(r.Context()).Options().Name)
	})
	mux.HandleFunc("GET /work", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 {
			http.Error(w, "ms must be a number of milliseconds", http.StatusBadRequest)
			return
		}
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
			fmt.Fprintf(w, "worked %d ms\n", ms)
		case <-r.Context().Done():
			http.Error(w, context.Cause(r.Context()).Error(), http.StatusServiceUnavailable)
		}
	})
	return mux
}

// serve runs the server under scheduler.Main until Ctrl-C and returns
// Main's exit status; ready is called with the address once it listens.
func serve(addr string, max int, grace time.Duration, h http.Handler, ready func(net.Addr), opts ...scheduler.SchedulerOption) int {
	return scheduler.Main(func(ctx context.Context, s *scheduler.Scheduler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		ready(ln.Addr())
		return run(ctx, s, ln, max, grace, h)
	}, grace, opts...)
}

// run serves h on ln in s until ctx ends, then drains for grace.
func run(ctx context.Context, s *scheduler.Scheduler, ln net.Listener, max int, grace time.Duration, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return factory.ServeHTTP(ctx, ln, srv,
		factory.WithScope(s), factory.WithName("http"), factory.WithLimit(max), factory.WithGrace(grace))
}
