package main

import (
	"context"
	"fmt"
	"time"

	"github.com/lazysched/lazysched/scheduler"
)

func Example() {
	web := newWeb(3, 5, time.Millisecond, nil)
	defer web.Close()
	s, _ := scheduler.New(scheduler.Unlimited())
	defer s.Shutdown(context.Background())

	found, err := run(context.Background(), s, web.Start(), 4, 2, web.Client())
	fmt.Println(len(found), "pages found, error:", err)
	fmt.Println("per-host cap held:", web.hosts[0].peak.Load() <= 2 && web.hosts[1].peak.Load() <= 2 && web.hosts[2].peak.Load() <= 2)
	fmt.Println("overall cap held:", web.peak.Load() <= 4)
	// Output:
	// 15 pages found, error: <nil>
	// per-host cap held: true
	// overall cap held: true
}
