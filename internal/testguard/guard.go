// Package testguard holds the hang guard of the bad-input sweeps: each case
// runs on its own goroutine under a deadline, so that a hang fails the case
// instead of the whole test run. It is a guard, not a wait for
// synchronisation.
package testguard

import (
	"runtime"
	"testing"
	"time"
)

// Deadline bounds each guarded call.
const Deadline = 5 * time.Second

// Within runs f on its own goroutine and fails the test if f has not
// returned within Deadline; it returns what f panicked with, if anything.
func Within(t *testing.T, f func()) (panicked any) {
	t.Helper()
	done := make(chan any, 1)
	go func() {
		var p any
		defer func() { done <- p }()
		defer func() { p = recover() }()
		f()
	}()
	timer := time.NewTimer(Deadline)
	defer timer.Stop()
	select {
	case p := <-done:
		return p
	case <-timer.C:
		t.Fatalf("did not return within %v", Deadline)
		return nil
	}
}

// Fatalf is t.Fatalf for the goroutine of a case: it fails the test and
// ends that goroutine (FailNow belongs to the test's own goroutine).
func Fatalf(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Errorf(format, args...)
	runtime.Goexit()
}

// Case runs f as the subtest name under the deadline and fails it on any
// panic.
func Case(t *testing.T, name string, f func(t *testing.T)) {
	t.Run(name, func(t *testing.T) {
		if p := Within(t, func() { f(t) }); p != nil {
			t.Errorf("panicked: %v", p)
		}
	})
}
