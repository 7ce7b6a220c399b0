package errgroup_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// The same code as with golang.org/x/sync/errgroup: only the import differs.
func Example() {
	g, ctx := errgroup.WithContext(context.Background())
	results := make([]string, 3)
	for i, name := range []string{"web", "image", "video"} {
		g.Go(func() error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			results[i] = name + " result"
			return nil
		})
	}
	fmt.Println(g.Wait(), results)
	// Output: <nil> [web result image result video result]
}

// A Group opened inside a scope shares its cap, and the scope's hooks see
// its functions as tasks.
func ExampleIn() {
	var started atomic.Int32
	s, _ := scheduler.New(scheduler.WithHooks(scheduler.Hooks{
		OnStart: func(context.Context, *scheduler.Scope, lazytask.Handle) context.Context { started.Add(1); return nil },
	}))
	defer s.Shutdown(context.Background())
	sc, _ := s.Root().NewScope(scheduler.WithName("fetch"), scheduler.WithLimit(2))

	g, _ := errgroup.In(context.Background(), sc)
	g.SetLimit(10) // the group's own limit; the scope's cap of 2 holds too
	errNotFound := errors.New("not found")
	for i := range 5 {
		g.Go(func() error {
			if i == 3 {
				return errNotFound
			}
			return nil
		})
	}
	err := g.Wait()
	fmt.Println(err == errNotFound, started.Load())
	// Output: true 5
}
