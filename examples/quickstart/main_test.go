package main

import (
	"context"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func Example() {
	if err := run(context.Background(), os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// submitted 1000 jobs: 4 running, 996 queued
	// square-999: running (over the cap: true), square-500: queued, square-998: canceled
	// square-998: canceled: not needed
	// square-500 (promoted) started no later than square-4 (head of the queue): true
	// sum of squares: 331837496
	// succeeded 999, canceled 1, force-runs 1, promoted 1
}
