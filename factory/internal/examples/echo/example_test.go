package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
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
	go func() { done <- run(ctx, s, ln, 8, time.Second) }()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Fprintln(conn, "ping")
	line, _ := bufio.NewReader(conn).ReadString('\n')
	fmt.Print(line)
	conn.Close()
	stop() // what Ctrl-C does under scheduler.Main
	fmt.Println("run:", <-done)
	// Output:
	// ping
	// run: <nil>
}
