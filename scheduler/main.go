package scheduler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Exit statuses returned by Main.
const (
	// ExitOK: fn returned nil and every task finished.
	ExitOK = 0
	// ExitFailed: fn, or the root scope (when fail-fast), returned an error.
	ExitFailed = 1
	// ExitGraceExpired: after a signal, the grace period ended and the
	// remaining tasks were canceled.
	ExitGraceExpired = 2
	// ExitInterrupted: after a signal, every task finished within the grace
	// period.
	ExitInterrupted = 130
	// ExitForced: a second signal canceled everything at once.
	ExitForced = 131
)

// ErrInterrupted is the cause of the context Main gives fn once the first
// SIGINT or SIGTERM has arrived.
var ErrInterrupted = errors.New("scheduler: interrupted by a signal")

// Main runs a whole program under a new scheduler: it calls fn with a
// context and the scheduler, and shuts the scheduler down when fn returns
// (waiting for every task). The first SIGINT or SIGTERM cancels fn's context
// with ErrInterrupted (so it stops producing work) and starts a graceful
// Shutdown with the given grace period: running and queued tasks may
// finish. A second signal cancels everything at once. Main returns the exit
// status to pass to os.Exit: ExitOK, ExitFailed, ExitGraceExpired,
// ExitInterrupted or ExitForced. Messages go to os.Stderr.
//
//	func main() {
//		os.Exit(scheduler.Main(run, 10*time.Second, scheduler.WithLimit(16)))
//	}
func Main(fn func(ctx context.Context, s *Scheduler) error, grace time.Duration, opts ...Option) int {
	s, err := New(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lazysched:", err)
		return ExitFailed
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	ctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	fnDone := make(chan error, 1)
	go func() { fnDone <- fn(ctx, s) }()

	var fnErr error
	select {
	case fnErr = <-fnDone:
		serr := s.Shutdown(context.Background())
		if fnErr != nil || serr != nil {
			fmt.Fprintln(os.Stderr, "lazysched:", errors.Join(fnErr, serr))
			return ExitFailed
		}
		return ExitOK
	case sig := <-sigs:
		fmt.Fprintf(os.Stderr, "lazysched: %v: draining for up to %v (signal again to cancel now)\n", sig, grace)
		stop(ErrInterrupted)
	}

	graceCtx, cancelGrace := context.WithTimeout(context.Background(), grace)
	defer cancelGrace()
	shutDone := make(chan error, 1)
	go func() { shutDone <- s.Shutdown(graceCtx) }()
	select {
	case err = <-shutDone:
	case sig := <-sigs:
		fmt.Fprintf(os.Stderr, "lazysched: %v: canceling now\n", sig)
		_ = s.Shutdown(context.Background())
		<-shutDone
		<-fnDone
		return ExitForced
	}
	<-fnDone
	if errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintln(os.Stderr, "lazysched: grace period over: remaining tasks canceled")
		return ExitGraceExpired
	}
	return ExitInterrupted
}
