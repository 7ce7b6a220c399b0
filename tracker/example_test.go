package tracker_test

import (
	"context"
	"fmt"

	"github.com/lazysched/lazysched/scheduler"
	"github.com/lazysched/lazysched/tracker"
)

func Example() {
	var tr tracker.Tracker
	s, _ := scheduler.New(scheduler.WithLimit(4), scheduler.WithHooks(tr.Hooks()))
	for range 100 {
		scheduler.Go(s, func(ctx context.Context) error { return nil })
	}
	s.Shutdown(context.Background())
	f := tr.Figures()
	fmt.Println("created", f.Created, "started", f.Started, "succeeded", f.Succeeded)
	// Output: created 100 started 100 succeeded 100
}
