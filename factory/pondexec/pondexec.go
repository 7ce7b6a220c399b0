// Package pondexec runs a lazysched scheduler's tasks on an existing
// github.com/alitto/pond/v2 pool, so that users of pond keep their pool and
// gain typed handles, scopes, hooks and policies. It is the only package of
// the module that imports pond: users of the core never link it.
//
// The scheduler still decides what runs: its cap, queue, priorities,
// force-runs, hooks and policies are unchanged. The pool only supplies the
// goroutines that run admitted tasks. One pool task runs one admitted task,
// and then whatever the scheduler hands that goroutine next, so the pool's
// counters count runs of the executor, not lazysched tasks.
package pondexec

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/alitto/pond/v2"

	"github.com/lazysched/lazysched/scheduler"
)

// WithPool is a scheduler option (scheduler.WithExecutor) that runs the
// scheduler's admitted tasks on pool. A nil pool makes scheduler.New fail
// with scheduler.ErrInvalidOption.
//
// The executor never blocks (the scheduler may call it with its lock held,
// and from several goroutines at once) and never loses a run:
//   - with an idle worker slot in pool, the run goes to pool.Go;
//   - if pool is stopped, or refuses the run, it runs on a goroutine of its
//     own (go run()); but a run that pool took before its Stop keeps its
//     worker for the tasks the scheduler chains onto that goroutine after
//     it, and parks it a moment for more: pool's Stop completes only once
//     the scheduler hands that goroutine nothing more, so do not wait for
//     it from a task of the scheduler; for the same reason, work given to
//     pool directly may wait as long as the scheduler has tasks to chain
//     onto pool's workers;
//   - if pool is saturated (every worker busy, or taken by a run on its
//     way to pool, or tasks waiting in its queue), the run also gets a
//     goroutine of its own: queued behind pool's other work it would not
//     run soon, and a task of the scheduler
//     waiting for another (which lends its slot, invariant I9) would
//     deadlock a pool whose workers all wait;
//   - a pool with a bounded queue that blocks when full gets the run from
//     a goroutine, which submits it there and runs it itself if pool
//     refuses.
//
// Until pool has taken a run, the run counts as a busy worker, so that the
// runs admitted with it do not queue behind it. That count is this
// option's: give the schedulers that share a pool one WithPool, or a run
// of one may queue behind another's.
//
// Give WithPool a pool, not a subpool (Pool.NewSubpool): a subpool's
// counters are its own, so it may look idle while its parent's workers are
// all busy, and a run handed to it then waits in the parent's queue (two
// tasks on two subpools that wait for tasks of their own deadlock that
// way), and a subpool whose parent is stopping may drop a run (pond v2.7),
// which would leave a task Running for ever.
//
// The scheduler's cap, not pool's, bounds the scheduler's tasks; give pool
// at least that many workers for its tasks to run there. With
// scheduler.WithoutPanicRecovery, give the pool pond.WithoutPanicRecovery
// too for a panic to crash the program: a panic that pond recovers ends
// the task Failed with a *lazytask.PanicError (never Running forever), and
// the program goes on.
func WithPool(pool pond.Pool) scheduler.SchedulerOption {
	if pool == nil {
		// Refused by scheduler.New with ErrInvalidOption.
		return scheduler.WithExecutor(nil)
	}
	f := &feeder{pool: pool}
	return scheduler.WithExecutor(f.submit)
}

// New returns a scheduler that runs its tasks on pool (WithPool), with the
// cap of pool's workers unless opts set one (pond's "no limit" becomes
// scheduler.Unlimited). opts are those of scheduler.New. A nil pool is
// refused with scheduler.ErrInvalidOption.
func New(pool pond.Pool, opts ...scheduler.SchedulerOption) (*scheduler.Scheduler, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: nil pond pool", scheduler.ErrInvalidOption)
	}
	var first scheduler.SchedulerOption = scheduler.Unlimited()
	if n := pool.MaxConcurrency(); n > 0 && n < math.MaxInt {
		first = scheduler.WithLimit(n)
	}
	all := append([]scheduler.SchedulerOption{first}, opts...)
	return scheduler.New(append(all, WithPool(pool))...)
}

// feeder hands a scheduler's runs to pool. pending counts the runs on
// their way to pool: each reserves a worker before it looks (submit), and
// keeps it until pool has taken it or refused it. A run handed to a
// blocking pool from a goroutine takes a worker that pool does not count
// as running meanwhile, and the executor may be called from several
// goroutines at once: without the reservation two runs admitted together
// for one idle worker both went to pool, and the second waited in its
// queue behind the first, which could be waiting for it.
type feeder struct {
	pool    pond.Pool
	pending atomic.Int64
}

func (f *feeder) submit(run func()) {
	pool := f.pool
	if pool.Stopped() {
		go run()
		return
	}
	// The reservation comes first, and pool's count is read after it: a
	// run that leaves pending has been counted by pool already.
	n := f.pending.Add(1)
	if pool.WaitingTasks() > 0 || pool.RunningWorkers()+n > int64(pool.MaxConcurrency()) {
		// Saturated: every worker is busy, or will be with the runs on
		// their way, or tasks wait in pool's queue; a run handed to pool
		// now would wait.
		f.pending.Add(-1)
		go run()
		return
	}
	if blocking(pool) {
		go func() {
			err := pool.Go(run)
			f.pending.Add(-1) // taken (pool counts its worker now) or refused
			if err != nil {
				run()
			}
		}()
		return
	}
	err := pool.Go(run)
	f.pending.Add(-1)
	if err != nil {
		go run()
	}
}

// blocking reports whether pool.Go may block: a bounded queue (or none)
// in blocking mode.
func blocking(pool pond.Pool) bool {
	return !pool.NonBlocking() && pool.QueueSize() != pond.Unbounded
}
