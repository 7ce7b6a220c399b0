// Command echo is a TCP echo server that drains on Ctrl-C.
//
// Each connection is a task of a handler scope capped at -max connections;
// beyond the cap the server stops accepting until one ends. The first
// Ctrl-C stops accepting and lets the open connections finish for -grace;
// then they are canceled and closed. A second Ctrl-C cancels at once.
//
//	go run ./factory/internal/examples/echo -addr 127.0.0.1:7007
//	nc 127.0.0.1 7007
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/scheduler"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7007", "address to listen on")
	max := flag.Int("max", 64, "connections served at once")
	grace := flag.Duration("grace", 10*time.Second, "how long connections may finish after Ctrl-C")
	flag.Parse()
	os.Exit(serve(*addr, *max, *grace, func(a net.Addr) { fmt.Fprintln(os.Stderr, "echo: listening on", a) }))
}

// serve runs the server under scheduler.Main until Ctrl-C, and returns
// Main's exit status; ready is called with the address once it listens.
func serve(addr string, max int, grace time.Duration, ready func(net.Addr)) int {
	return scheduler.Main(func(ctx context.Context, s *scheduler.Scheduler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		ready(ln.Addr())
		return run(ctx, s, ln, max, grace)
	}, grace)
}

// run serves ln in s until ctx ends, then drains for grace.
func run(ctx context.Context, s *scheduler.Scheduler, ln net.Listener, max int, grace time.Duration) error {
	return factory.Serve(ctx, ln, echo,
		factory.WithScope(s), factory.WithName("echo"), factory.WithLimit(max), factory.WithGrace(grace))
}

// echo sends every line back until the client closes the connection.
func echo(ctx context.Context, conn net.Conn) error {
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := io.WriteString(conn, line); err != nil {
			return err
		}
	}
}
