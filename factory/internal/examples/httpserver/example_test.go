package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/lazysched/lazysched/scheduler"
)

func Example() {
	s, _ := scheduler.New()
	defer s.Shutdown(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- run(ctx, s, ln, 8, time.Second, routes()) }()

	c := &http.Client{Transport: &http.Transport{}}
	resp, err := c.Get("http://" + ln.Addr().String() + "/hello")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	c.CloseIdleConnections()
	fmt.Print(string(body))
	stop() // what Ctrl-C does under scheduler.Main
	fmt.Println("run:", <-done)
	// Output:
	// hello from task "GET /hello"
	// run: <nil>
}
