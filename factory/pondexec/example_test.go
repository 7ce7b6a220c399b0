package pondexec_test

import (
	"context"
	"fmt"

	"github.com/alitto/pond/v2"

	"github.com/lazysched/lazysched/factory/pondexec"
	"github.com/lazysched/lazysched/scheduler"
)

// Keep the pond pool; gain typed handles, scopes and hooks. The scheduler's
// cap defaults to the pool's size.
func ExampleNew() {
	pool := pond.NewPool(4)
	defer pool.StopAndWait()

	s, err := pondexec.New(pool)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Shutdown(context.Background())

	t, _ := scheduler.Submit(s, func(ctx context.Context) (int, error) { return 6 * 7, nil })
	v, err := t.Await(context.Background())
	fmt.Println(v, err, s.Stats().Limit, pool.SubmittedTasks())
	// Output: 42 <nil> 4 1
}

// WithPool is the plain scheduler option, for schedulers made elsewhere.
func ExampleWithPool() {
	pool := pond.NewPool(8)
	defer pool.StopAndWait()
	s, _ := scheduler.New(scheduler.WithLimit(2), pondexec.WithPool(pool))
	defer s.Shutdown(context.Background())

	t, _ := scheduler.Submit(s, func(ctx context.Context) (string, error) { return "ran on the pool", nil })
	fmt.Println(t.Await(context.Background()))
	// Output: ran on the pool <nil>
}
