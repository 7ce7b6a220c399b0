// Package pondexec runs a lazysched scheduler's tasks on an existing
// github.com/alitto/pond/v2 pool, so that users of pond keep their pool and
// gain typed handles, scopes, hooks and policies. It is the only package of
// the module that imports pond: users of the core never link it.
//
// The scheduler still decides what runs: its cap, queue, priorities,
// force-runs, hooks and policies are unchanged. The pool only supplies the
// goroutines that run admitted tasks. One pool task runs one admitted task,
// and then whatever the scheduler hands that goroutine next until the pool
// is stopped or has work of its own waiting, so the pool's counters count
// runs of the executor, not lazysched tasks.
package pondexec

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/alitto/pond/v2"

	"github.com/lazysched/lazysched/scheduler"
)

// WithPool is a scheduler option (scheduler.WithYieldingExecutor) that runs the
// scheduler's admitted tasks on pool. A nil pool makes scheduler.New fail
// with scheduler.ErrInvalidOption.
//
// The executor never blocks (the scheduler may call it with its lock held,
// and from several goroutines at once) and never loses a run:
//   - with an idle worker slot in pool, the run goes to pool.Go;
//   - if pool is stopped, or refuses the run, it runs on a goroutine of its
//     own (go run());
//   - a worker of pool that ran a task gives itself back to pool before it
//     goes on with the next task the scheduler chains onto it, if pool is
//     stopped or has work of its own waiting (scheduler.WithYieldingExecutor):
//     that task is then handed to the executor again, as a new run. So
//     pool's Stop completes once the tasks its workers run end, and work
//     given to pool directly waits for one task of the scheduler's at most
//     per worker, not for as long as the scheduler has tasks;
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
// the program goes on. The runs that get a goroutine of their own (a
// stopped or saturated pool, a task handed back while the pool has work
// waiting) are outside pond's recovery: under WithoutPanicRecovery a panic
// there crashes the program whatever the pool's own setting.
func WithPool(pool pond.Pool) scheduler.SchedulerOption {
	if pool == nil {
		// Refused by scheduler.New with ErrInvalidOption.
		return scheduler.WithYieldingExecutor(nil)
	}
	f := &feeder{pool: pool}
	f.yield = f.yields
	return scheduler.WithYieldingExecutor(f.submit)
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
	yield   func() bool // yields, made once
}

func (f *feeder) submit(run func(yield func() bool)) {
	pool := f.pool
	if pool.Stopped() {
		go run(nil)
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
		go run(nil)
		return
	}
	onPool := func() { run(f.yield) }
	if blocking(pool) {
		go func() {
			err := pool.Go(onPool)
			f.pending.Add(-1) // taken (pool counts its worker now) or refused
			if err != nil {
				run(nil)
			}
		}()
		return
	}
	err := pool.Go(onPool)
	f.pending.Add(-1)
	if err != nil {
		go run(nil)
	}
}

// yields is the yield of the runs on pool's workers: a worker goes back to
// pool, rather than on with the scheduler's next task, once pool is
// stopped or has work of its own waiting. (A run of the executor's on its
// way to an idle worker may be what waits, for a moment: the task handed
// back then gets a goroutine of its own.)
func (f *feeder) yields() bool {
	return f.pool.Stopped() || f.pool.WaitingTasks() > 0
}

// blocking reports whether pool.Go may block: a bounded queue (or none)
// in blocking mode.
func blocking(pool pond.Pool) bool {
	return !pool.NonBlocking() && pool.QueueSize() != pond.Unbounded
}
