package scheduler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lazysched/lazysched/lazytask"
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

// errGraceOver ends the drain that a signal starts: Shutdown returns it
// when the grace period ran out (a task's own DeadlineExceeded, joined in
// a fail-fast root's errors, cannot pass for it).
var errGraceOver = errors.New("scheduler: grace period over")

// Main runs a whole program under a new scheduler: it calls fn with a
// context and the scheduler, and shuts the scheduler down when fn returns
// (waiting for every task). The first SIGINT or SIGTERM, whether fn is
// still running or has returned and tasks remain, cancels fn's context
// with ErrInterrupted (so that fn, and the tasks that watch that context,
// stop producing work) and starts a graceful Shutdown with the given grace
// period: running and queued tasks may finish until it ends, then the rest
// are canceled with ErrClosed as the cause. A second signal, during the
// drain or while fn has yet to return, cancels everything at once and
// Main returns without waiting for fn (a third one ends the process, even
// while a task that ignores its context holds the Shutdown). Once a signal
// has arrived, Main also waits for fn to return, until a second signal.
//
// Main returns the exit status to pass to os.Exit. With no signal: ExitOK,
// or ExitFailed if fn or the root scope (when fail-fast) returned an
// error. After a signal: ExitInterrupted if every task finished within the
// grace period, ExitGraceExpired if the grace period ended first,
// ExitForced after a second signal; an error fn returned before the first
// signal turns ExitInterrupted into ExitFailed (what fn returns after it
// is taken for its answer to ErrInterrupted). A nil fn is reported as
// lazytask.ErrNilFunc, with ExitFailed, and nothing is started. Messages go
// to os.Stderr.
//
//	func main() {
//		os.Exit(scheduler.Main(run, 10*time.Second, scheduler.WithLimit(16)))
//	}
func Main(fn func(ctx context.Context, s *Scheduler) error, grace time.Duration, opts ...SchedulerOption) int {
	if fn == nil {
		fmt.Fprintln(os.Stderr, "lazysched:", lazytask.ErrNilFunc)
		return ExitFailed
	}
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

	// The Shutdown waits for every task until the grace period, started
	// by the first signal, ends.
	drain, endGrace := context.WithCancelCause(context.Background())
	defer endGrace(nil)
	shutDone := make(chan error, 1)
	shutdown := func() { go func() { shutDone <- s.Shutdown(drain) }() }

	var fnErr error
	returned := false
	var sig os.Signal
	select {
	case fnErr = <-fnDone:
		returned = true
		shutdown()
		// Tasks may remain: keep listening for signals meanwhile.
		select {
		case serr := <-shutDone:
			if fnErr != nil || serr != nil {
				fmt.Fprintln(os.Stderr, "lazysched:", errors.Join(fnErr, serr))
				return ExitFailed
			}
			return ExitOK
		case sig = <-sigs:
		}
	case sig = <-sigs:
	}

	fmt.Fprintf(os.Stderr, "lazysched: %v: draining for up to %v (signal again to cancel now)\n", sig, grace)
	stop(ErrInterrupted)
	if !returned {
		shutdown()
	}
	timer := time.AfterFunc(grace, func() { endGrace(errGraceOver) })
	defer timer.Stop()
	code := ExitInterrupted
	// Wait for the drain and for fn, and listen for a second signal all
	// along: one that comes once the drain has ended, while fn still runs,
	// cancels at once too.
	shutWait, fnWait, sigWait := (<-chan error)(shutDone), (<-chan error)(nil), (<-chan os.Signal)(sigs)
	if !returned {
		fnWait = fnDone
	}
	for shutWait != nil || fnWait != nil {
		select {
		case err = <-shutWait:
			shutWait = nil
			if errors.Is(err, errGraceOver) {
				fmt.Fprintln(os.Stderr, "lazysched: grace period over: remaining tasks canceled")
				code = ExitGraceExpired
			} else if err != nil && !errors.Is(err, ErrClosed) {
				// A fail-fast root's errors: the status stays that of
				// the signal, but they are not dropped unsaid.
				fmt.Fprintln(os.Stderr, "lazysched:", err)
			}
		case <-fnWait:
			fnWait = nil
		case sig := <-sigWait:
			// A third signal has the default effect: it ends the process,
			// even while a task that ignores its context holds Shutdown.
			signal.Stop(sigs)
			fmt.Fprintf(os.Stderr, "lazysched: %v: canceling now\n", sig)
			sigWait = nil
			_ = s.Shutdown(context.Background())
			if shutWait != nil {
				<-shutWait
				shutWait = nil
			}
			fnWait = nil // the second signal does not wait for fn
			code = ExitForced
		}
	}
	if returned && fnErr != nil {
		fmt.Fprintln(os.Stderr, "lazysched:", fnErr)
		if code == ExitInterrupted {
			code = ExitFailed
		}
	}
	return code
}
