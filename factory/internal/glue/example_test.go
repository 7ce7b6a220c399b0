package glue_test

import (
	"context"
	"fmt"

	"github.com/lazysched/lazysched/factory/internal/glue"
	"github.com/lazysched/lazysched/scheduler"
)

// A task that waits on a channel for work of its own scheduler lends its
// slot meanwhile: with a cap of 1 the inner task could not run otherwise.
func ExampleRecv() {
	s, _ := scheduler.New(scheduler.WithLimit(1))
	defer s.Shutdown(context.Background())
	outer, _ := scheduler.Submit(s, func(ctx context.Context) (string, error) {
		ch := make(chan string, 1)
		_, _ = scheduler.Go(s, func(context.Context) error { ch <- "inner ran"; return nil })
		return glue.Recv(ctx, ch)
	})
	fmt.Println(outer.Await(context.Background()))
	// Output: inner ran <nil>
}
