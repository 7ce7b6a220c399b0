package lazytask_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/lazysched/lazysched/lazytask"
)

func Example() {
	t := lazytask.New(func(ctx context.Context) (string, error) {
		return "hello", nil
	}, lazytask.WithName("greet"))
	fmt.Println(t.Name(), t.State()) // nothing has run yet

	if err := t.Start(); err != nil {
		fmt.Println("start:", err)
		return
	}
	v, err := t.Await(context.Background())
	fmt.Println(v, err, t.State())
	// Output:
	// greet lazy
	// hello <nil> succeeded
}

func ExampleTask_Await_lazy() {
	t := lazytask.New(func(ctx context.Context) (int, error) { return 1, nil })

	// Awaiting never starts a task: with a context that is already over,
	// Await returns its cause and the task stays Lazy.
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("gave up waiting"))
	_, err := t.Await(ctx)
	fmt.Println(err, t.State())
	// Output:
	// gave up waiting lazy
}

func ExampleTask_OnDone() {
	t := lazytask.New(func(ctx context.Context) (int, error) { return 6 * 7, nil })
	done := make(chan struct{})
	t.OnDone(func(v int, err error) {
		fmt.Println("first callback:", v, err)
	})
	t.OnDone(func(v int, err error) {
		fmt.Println("second callback:", v, err)
		close(done)
	})
	_ = t.Start()
	<-done

	// A callback added after the end runs too.
	late := make(chan struct{})
	t.OnDone(func(v int, err error) {
		fmt.Println("late callback:", v)
		close(late)
	})
	<-late
	// Output:
	// first callback: 42 <nil>
	// second callback: 42 <nil>
	// late callback: 42
}

func ExampleTask_Cancel() {
	ran := false
	t := lazytask.New(func(ctx context.Context) (int, error) {
		ran = true
		return 1, nil
	})
	fmt.Println(t.Cancel(errors.New("not needed")))
	_, err := t.Await(context.Background())
	fmt.Println(t.State(), err, ran)
	fmt.Println(t.Cancel(nil)) // after the end: false, nothing changes
	// Output:
	// true
	// canceled not needed false
	// false
}

func ExampleNew_badInput() {
	t := lazytask.New[int](nil)
	fmt.Println(t.State(), errors.Is(t.Err(), lazytask.ErrNilFunc))

	w := lazytask.New(func(ctx context.Context) (int, error) { return 0, nil }, lazytask.WithWeight(0))
	fmt.Println(w.State(), errors.Is(w.Err(), lazytask.ErrInvalidOption))
	// Output:
	// failed true
	// failed true
}

// A task keeps its timings only when asked: WithTimings (or a timeout,
// which counts from the start).
func ExampleWithTimings() {
	t := lazytask.New(func(context.Context) (string, error) { return "done", nil }, lazytask.WithTimings())
	_ = t.Start()
	_, _ = t.Await(context.Background())
	fmt.Println("created:", !t.Timings().Created.IsZero(), "finished:", !t.Timings().Finished.IsZero())

	plain := lazytask.New(func(context.Context) (string, error) { return "done", nil })
	_ = plain.Start()
	_, _ = plain.Await(context.Background())
	fmt.Println("plain:", plain.Timings() == lazytask.Timings{})
	// Output:
	// created: true finished: true
	// plain: true
}
