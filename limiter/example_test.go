package limiter_test

import (
	"context"
	"fmt"

	"github.com/lazysched/lazysched/limiter"
)

func ExampleWeighted() {
	ctx := context.Background()
	w, err := limiter.NewWeighted(3)
	if err != nil {
		panic(err)
	}
	if err := w.Acquire(ctx, 2); err != nil {
		panic(err)
	}
	fmt.Println("in use:", w.InUse(), "of", w.Limit())
	fmt.Println("one more fits:", w.TryAcquire(2))
	fmt.Println("too big:", w.Acquire(ctx, 4))
	w.Release(2)
	fmt.Println("in use:", w.InUse())
	// Output:
	// in use: 2 of 3
	// one more fits: false
	// too big: limiter: weight exceeds the limit
	// in use: 0
}

func ExampleWeighted_Resize() {
	ctx := context.Background()
	w, _ := limiter.NewWeighted(4)
	_ = w.Acquire(ctx, 4)

	// Lowering the limit revokes nothing: the holder keeps its slots, and
	// newcomers wait until enough are released.
	_ = w.Resize(2)
	fmt.Println("in use:", w.InUse(), "of", w.Limit())
	fmt.Println("TryAcquire(1):", w.TryAcquire(1))
	w.Release(3)
	fmt.Println("TryAcquire(1):", w.TryAcquire(1))

	// Raising it admits more at once.
	_ = w.Resize(5)
	fmt.Println("TryAcquire(3):", w.TryAcquire(3))
	fmt.Println("in use:", w.InUse(), "of", w.Limit())
	// Output:
	// in use: 4 of 2
	// TryAcquire(1): false
	// TryAcquire(1): true
	// TryAcquire(3): true
	// in use: 5 of 5
}

func ExampleCounter() {
	// A Counter does no locking: keep it under your own lock.
	var c limiter.Counter
	if err := c.Init(2); err != nil {
		panic(err)
	}
	for _, n := range []int64{1, 1, 1} {
		if c.Fits(n) {
			c.Take(n)
			fmt.Println("took", n, "in use", c.InUse())
		} else {
			fmt.Println("no room for", n)
		}
	}
	c.Force(1) // urgent work goes over the limit, and is counted
	fmt.Println("in use", c.InUse(), "over", c.Over())
	c.Put(3)
	fmt.Println("in use", c.InUse(), "fits 1:", c.Fits(1))

	c.SetUnlimited()
	fmt.Println("unlimited fits 100:", c.Fits(100))
	// Output:
	// took 1 in use 1
	// took 1 in use 2
	// no room for 1
	// in use 3 over 1
	// in use 0 fits 1: true
	// unlimited fits 100: true
}

func ExampleLocal() {
	// A Local limit of 2 slots, asked for asynchronously, as a scheduler
	// does: Acquire returns at once and Granted is called when it fits.
	l, err := limiter.NewLocal(2)
	if err != nil {
		panic(err)
	}
	var held []limiter.Permit
	ask := func(name string, w int64) {
		l.Acquire(limiter.Request{Weight: w, Granted: func(p limiter.Permit, err error) {
			fmt.Println("granted", name)
			held = append(held, p)
		}})
	}
	ask("a", 1)
	ask("b", 2) // waits: only 1 slot is free
	ask("c", 1) // waits behind b: a heavy request is not overtaken
	fmt.Println("waiting:", l.Waiting())
	held[0].Release() // a's slot back: b fits
	fmt.Println("in use:", l.InUse())
	// Output:
	// granted a
	// waiting: 2
	// granted b
	// in use: 2
}
