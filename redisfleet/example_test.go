package redisfleet_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lazysched/lazysched/redisfleet"
	"github.com/lazysched/lazysched/scheduler"
)

// Every process of a fleet runs this: each has a local cap of 16, and the
// fleet as a whole runs at most 50 calls to the partner API at once. (It
// needs a Redis, so it is compiled but not run by go test.)
func Example() {
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()

	partner, err := redisfleet.New(client, "partner-api", 50, redisfleet.WithLease(5*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer partner.Close() // after the scheduler's Shutdown: defers run last first

	s, err := scheduler.New(scheduler.WithLimit(16), scheduler.WithSharedLimit(partner))
	if err != nil {
		log.Fatal(err)
	}
	for i := range 100 {
		_, err := scheduler.Go(s, func(ctx context.Context) error {
			// ctx is canceled with limiter.ErrLeaseLost if this process
			// loses its permit: stop then, the slot may go to another.
			return callPartner(ctx, i)
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	if err := s.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	st := partner.Stats()
	fmt.Println("permits held here:", st.Held, "renewals:", st.Renewals, "lost:", st.Losses)
}

func callPartner(ctx context.Context, i int) error { return ctx.Err() }

// Fail rather than wait when Redis cannot be reached: the scheduler ends
// the task Failed with limiter.ErrSharedUnavailable (use errors.Is).
func ExampleWithFailFast() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	l, err := redisfleet.New(client, "partner-api", 50, redisfleet.WithFailFast())
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	s, err := scheduler.New(scheduler.WithSharedLimit(l))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Shutdown(context.Background())
}
