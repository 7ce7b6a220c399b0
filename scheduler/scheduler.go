package scheduler

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/internal/goid"
	"github.com/lazysched/lazysched/lazytask"
)

// Scheduler runs tasks under a cap, in a tree of scopes whose root it owns.
// Create it with New; the zero value is not usable, and a Scheduler must
// not be copied. All methods are safe for concurrent use; called on a nil
// *Scheduler they panic with "scheduler: method called on a nil
// *Scheduler", and on a zero Scheduler (one not made by New) with
// "scheduler: method called on a zero Scheduler (make one with New)";
// Submit and the other functions of this package that take a Spawner
// return ErrNilScope for both (those of factory and errgroup call the
// methods, and so panic for a zero one).
type Scheduler struct {
	_    noCopy
	root *Scope // read-mostly fields first, away from the lock's line
	cfg  config
	clk  *core.Timebase // WithClock's clock; nil: the runtime's
	wg   goroutines     // goroutines running tasks or left-over user code
	ttl  goroutines     // armed scope timeouts and their cancellations
	// heldBy and timedBy count, by goroutine id, the goroutines that run
	// user code Shutdown waits for without being the scheduler's own: a
	// canceler inside unlockFinishing, a timeout's or base context's
	// cancellation (runTimed). A Shutdown called from that code leaves
	// them out of its waits. Under mu; nil until needed.
	heldBy, timedBy goidCounts
	// own counts, by goroutine id, the goroutines that run work or a
	// goTracked function now, under its own lock (count, ownGoroutine): a
	// Shutdown called from user code they run leaves them out of its wait,
	// and one called from another scheduler's goroutine does not.
	own struct {
		mu sync.Mutex
		by goidCounts
	}
	// stopBase disarms the watch of the base context (WithBaseContext).
	stopBase func()
	// hot is read by submitters on every submit and written only when it
	// changes: it has a cache line of its own, away from dirty, which
	// submitters and the lock's holder write on every drain.
	_      [64]byte
	hot    atomic.Bool
	_      [63]byte
	dirty  atomic.Pointer[Scope] // scopes whose inbox may hold tasks; see inbox.go
	seq    atomic.Int64          // the FIFO keys of queued tasks (orderOf)
	_      [48]byte
	outbox []func() // calls to make once s.mu is let go; see later
	// outRuns holds, by goroutine (goid.ID), the calls left to make by
	// the callOuts running on it, under outMu; outCalls counts the
	// callOuts under way on any goroutine. See callOuts.
	outMu    sync.Mutex
	outRuns  map[uint64]*[]func()
	outCalls atomic.Int32
	// wake is the done channel of a task that Release ended, to close
	// once s.mu is let go (unlock), or before a task starts on another
	// goroutine (startLocked), whichever comes first; see Release.
	wake chan struct{}

	mu sync.Mutex
	// under mu
	ready     scopeHeap // scopes with queued tasks, candidates to admit; see ready.go
	hids      heapIDs   // the index of the scopes in s.ready and the parked heaps
	agingStep int64     // cfg.aging in ns, 0 for none
	timed     bool      // every task keeps its timings (cfg.timings, a clock, aging)
	queued    int
	forced    int64 // slots of tasks running over the cap
	overTasks int   // tasks running over the cap
	running   int
	lazy      int               // Lazy tasks bound to scopes (NewTask)
	spinning  int               // goroutines lingering for work (0 or 1)
	idle      []chan *core.Task // parked goroutines, newest last; see parkLocked
	maxIdle   int               // how many may park
	dismissed bool              // Shutdown dismissed the parked: none parks again
	spawned   int               // goroutines started for tasks (spawn), for the tests
	starting  int               // goroutines started that have yet to begin; see starts.go
	startQ    []*core.Task      // admitted tasks waiting for a goroutine, from startHead on
	startHead int               // the first of startQ not yet taken (popStartLocked)
	idleLow   int               // the fewest parked since the reaper last looked
	reaper    *time.Timer       // runs reap; made at the first park
	reaping   bool              // reaper is armed
	promotes  int64
	lastStart int64         // start time of the last task admitted from a queue
	room      chan struct{} // closed when the queue shrinks (bounded queue waiters)
	stats     counters
	deferred  []*core.Task            // ended under the lock; callbacks still to run
	reclaims  []*reclaim              // tasks back from a wait, waiting for their slots
	lent      int                     // tasks whose slots are lent while they wait
	early     map[*core.Task]*reclaim // waits whose slots came back when their task ended; see early.go
	reports   []deferredReport        // supervisor handler calls still to make
	done      doneQueue               // done hooks run off the next task's path; see donehooks.go
}

// counters are the running totals of Stats, by kind: the scheduler keeps
// them for the whole tree, and each scope for its own tasks.
type counters [numCounters]uint64

type counter uint8

// The counters every task moves (created, submitted and its outcome) come
// first: a scope keeps them on a line it touches per task anyway (Scope's
// lines), the others on the next.
const (
	cCreated counter = iota
	cSubmitted
	cSucceeded
	cFailed
	cCanceled
	cRejected
	cForceRuns
	cPromoted
	numCounters
)

func (c *counters) add(o *counters) {
	for i := range c {
		c[i] += o[i]
	}
}

// count adds one to a total of sc's and of the scheduler's, under s.mu.
func (sc *Scope) count(k counter) {
	sc.s.stats[k]++
	sc.stats[k]++
}

type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// New returns a scheduler with the given options; the default cap is
// runtime.GOMAXPROCS(0) and the root scope is a supervisor that logs task
// errors with log/slog. It returns an error wrapping ErrInvalidLimit for a
// cap or queue limit below 1, or ErrInvalidOption. Nothing is started until
// a task is submitted.
func New(opts ...SchedulerOption) (*Scheduler, error) {
	cfg := defaults()
	cfg.name = "root"
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	s := &Scheduler{cfg: cfg, agingStep: int64(cfg.aging), clk: clockTimebase(cfg.clock)}
	if !cfg.executor() {
		s.maxIdle = 4 * runtime.GOMAXPROCS(0)
	}
	s.timed = cfg.timings || cfg.clock != nil || cfg.aging > 0
	s.ready.s = s
	s.root = newScope(s, nil, cfg)
	if base := cfg.base; base != nil && base.Done() != nil {
		s.watchBase(base)
	}
	return s, nil
}

// watchBase cancels the tree when the base context is canceled. The
// cancellation runs on a goroutine of the context package that ttl counts,
// so that Shutdown waits for it or disarms it.
func (s *Scheduler) watchBase(base context.Context) {
	if base.Err() != nil {
		s.root.Cancel(context.Cause(base))
		return
	}
	s.ttl.Add(1)
	stop := context.AfterFunc(base, func() {
		defer s.ttl.Done()
		s.runTimed(func() { s.root.Cancel(context.Cause(base)) })
	})
	s.stopBase = func() {
		if stop() {
			s.ttl.Done()
		}
	}
}

// Root returns the scheduler's root scope: tasks submitted to the scheduler
// itself run there.
func (s *Scheduler) Root() *Scope { return s.rootScope() }

// rootScope is s.root, with a panic that names the mistake for a nil
// *Scheduler or a zero Scheduler.
func (s *Scheduler) rootScope() *Scope {
	if s == nil {
		panic(errNilScheduler)
	}
	if s.root == nil {
		panic(errZeroScheduler)
	}
	return s.root
}

// Messages of the panics of methods called on nil or zero receivers
// (ErrNilScope).
const (
	errNilScheduler  = "scheduler: method called on a nil *Scheduler"
	errNilScopeRecv  = "scheduler: method called on a nil *Scope"
	errZeroScheduler = "scheduler: method called on a zero Scheduler (make one with New)"
	errZeroScope     = "scheduler: method called on a zero Scope (make one with Scope.NewScope)"
)

// sched returns sc's scheduler, with a panic that names the mistake for a
// nil *Scope.
func (sc *Scope) sched() *Scheduler {
	if sc == nil {
		panic(errNilScopeRecv)
	}
	if sc.s == nil {
		panic(errZeroScope)
	}
	return sc.s
}

func (s *Scheduler) target() *Scope {
	if s == nil {
		return nil
	}
	return s.root
}

// Spawner is where tasks can be submitted: a *Scheduler (its root scope) or
// a *Scope. A nil Spawner, a nil *Scheduler or *Scope in one, or a zero
// Scheduler or Scope (not made by New or NewScope), makes Submit, Go and
// SubmitWait return ErrNilScope, and NewTask a task Failed with it.
type Spawner interface{ target() *Scope }

// targetOf returns the scope behind sp, or nil.
func targetOf(sp Spawner) *Scope {
	if sp == nil {
		return nil
	}
	return sp.target()
}

// Submit creates a task that runs fn in sp and queues it, without blocking.
// It returns the task's handle at once, Queued (or already Running if a
// slot was free).
//
// On bad input or refusal Submit returns a non-nil handle that has already
// ended, and the error: lazytask.ErrNilFunc or lazytask.ErrInvalidOption
// (the task is Failed), ErrWeightTooLarge (Failed), ErrClosed, ErrQueueFull
// or ErrScopeCanceled (Canceled). The task never runs in these cases. If
// an OnCreate or OnQueue hook cancels the task before the handoff, Submit
// returns ErrNotQueued with the handle, Canceled; if a hook force-runs it
// (Force), Submit returns nil and the task runs.
func Submit[T any](sp Spawner, fn func(ctx context.Context) (T, error), opts ...lazytask.Option) (*lazytask.Task[T], error) {
	return submit(context.Background(), false, sp, fn, opts)
}

// submit is Submit, and SubmitWait when wait is true.
func submit[T any](ctx context.Context, wait bool, sp Spawner, fn func(ctx context.Context) (T, error), opts []lazytask.Option) (*lazytask.Task[T], error) {
	t := lazytask.New(fn, opts...)
	c := core.Of(t)
	sc := targetOf(sp)
	if core.IsDone(c) {
		core.MarkRejected(c) // bad input; nobody else sees c yet
		if sc != nil {
			sc.countRejected()
		}
		return t, t.Err()
	}
	if sc == nil {
		core.MarkRejected(c)
		core.EndUnstarted(c, core.Failed, ErrNilScope)
		return t, ErrNilScope
	}
	if sc.s.timed || sc.timedHooks {
		core.KeepTimings(c, sc.s.clk) // made now, on the scheduler's clock
	}
	// The hooks see the handle before the handoff (and might cancel it),
	// and a carried context may cancel the task from its own goroutine at
	// any time: then the handoff below takes the compare-and-swap path.
	fresh := !sc.hooked && !core.Exposed(c)
	if sc.hooked {
		sc.fireBeforeHandoff(c)
	}
	var err error
	if !wait && sc.enqueueFast(c, fresh) {
		return t, nil
	}
	if wait {
		err = sc.enqueueWait(ctx, c)
	} else {
		err = sc.enqueue(c, fresh, true)
	}
	if err != nil {
		if sc.handedOver(c) || !sc.abandon(c, err) {
			return t, nil
		}
		return t, err
	}
	return t, nil
}

// handedOver reports whether a hook that saw c before its handoff handed it
// over itself, so that the handoff that failed because of it is no
// refusal: it force-ran c, whose owner reports its end. (A hook's Start or
// Enqueue of c is refused until the handoff, core.BeginHooks.) A task a
// hook canceled is left to abandon.
func (sc *Scope) handedOver(c *core.Task) bool { return core.Bound(c) != nil }

// Go is Submit for a function with no result.
func Go(sp Spawner, fn func(ctx context.Context) error, opts ...lazytask.Option) (*lazytask.Task[struct{}], error) {
	if fn == nil {
		return Submit[struct{}](sp, nil, opts...)
	}
	return Submit(sp, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) }, opts...)
}

// SubmitWait is Submit for a scheduler with a bounded queue: when the queue
// is full it waits for room until ctx ends, and then returns
// context.Cause(ctx) with a handle Canceled with that cause. A ctx that has
// ended already refuses the task even if the queue has room, as x/sync's
// semaphore.Acquire does: the end came before the call. Called from inside
// a task with its context, it lends the task's slots while it waits for
// room, as Await does (I9): at a cap of 1 the room may come only once a
// queued task runs in that slot. With an unbounded queue it is Submit, and
// ctx is not looked at.
func SubmitWait[T any](ctx context.Context, sp Spawner, fn func(ctx context.Context) (T, error), opts ...lazytask.Option) (*lazytask.Task[T], error) {
	return submit(ctx, true, sp, fn, opts)
}

// NewTask creates a Lazy task bound to sp without queueing it: nothing runs
// until it is handed to sp with Enqueue, force-run, or started with its
// Start method (a force-run in sp). If sp closes first, the task is
// canceled with lazytask.ErrScopeClosed, so it never hangs an awaiter
// (invariant I10). A task made after sp closed is returned Canceled with
// ErrClosed.
func NewTask[T any](sp Spawner, fn func(ctx context.Context) (T, error), opts ...lazytask.Option) *lazytask.Task[T] {
	t := lazytask.New(fn, opts...)
	c := core.Of(t)
	sc := targetOf(sp)
	if core.IsDone(c) {
		core.MarkRejected(c) // bad input; nobody else sees c yet
		if sc != nil {
			sc.countRejected()
		}
		return t
	}
	if sc == nil {
		core.MarkRejected(c)
		core.EndUnstarted(c, core.Failed, ErrNilScope)
		return t
	}
	if sc.s.timed || sc.timedHooks {
		core.KeepTimings(c, sc.s.clk) // made now, on the scheduler's clock
	}
	if sc.hooked {
		core.BeginHooks(c)            // a fresh task: nobody else marks it
		sc.fireGuarded(c, hookCreate) // before the task can be seen, and so canceled
	}
	if err := sc.bindLazy(c); err != nil && !sc.handedOver(c) {
		sc.abandon(c, err) // false: a hook's goroutine force-ran it meanwhile
	}
	if sc.hooked {
		core.EndHooks(c) // bound now: a Start is a force-run in sc
	}
	return t
}

// abandon ends a task that Submit created and could not queue, so that no
// handle is left Lazy forever; hooks that saw it created see it end. It
// reports false, doing nothing, if a goroutine that a hook gave the handle
// to handed the task over first (a Force won the race with the refusal):
// its owner counts it and reports its end, and Submit has not failed.
func (sc *Scope) abandon(c *core.Task, err error) bool {
	st := core.Canceled
	if errors.Is(err, ErrWeightTooLarge) || err == core.ErrCallbackGoexit {
		st = core.Failed
	}
	if sc.hooked {
		// The done hooks run here, inside the task that submits, if one
		// does (I11; its callbacks, core's publish sees to).
		if leave := core.EnterCallbacks(goid.ID()); leave != nil {
			defer leave()
		}
	}
	// The refusal claims the task and marks it in one step, so that whoever
	// sees it end sees the mark, and a Force from a hook's goroutine either
	// comes first (then the task is its owner's) or finds it ended.
	if !core.EndRejectedOn(c, sc.s.clk, st, err) {
		core.Settled(c)
		if core.Bound(c) != nil {
			return false // force-run meanwhile
		}
		// Ended meanwhile by a hook's goroutine (a Cancel): no owner has
		// it, so it is counted here as refused, and its done hooks fire
		// here.
		core.MarkRejected(c)
	}
	sc.countRejected()
	if sc.hooked {
		sc.fire(c, hookDone)
	}
	return true
}

// fireBeforeHandoff fires the create and queue hooks of a task that Submit
// made; see fireGuarded.
func (sc *Scope) fireBeforeHandoff(c *core.Task) {
	core.BeginHooksFresh(c) // Submit's own task: nobody else marks it
	sc.fireGuarded(c, hookCreate, hookQueue)
}

// fireGuarded fires hooks of a task not yet handed over to the scheduler
// (Submit's, NewTask's, an unbound task given to Enqueue). If one calls
// runtime.Goexit, the task is never handed over: it is ended Failed with
// ErrCallbackGoexit on the way out, so that nobody who saw it (the other
// hooks, the caller's handle) waits for it forever.
//
// The caller marks c first (core.BeginHooks) until the handoff, so that a
// Start or Enqueue of it meanwhile, from a hook or from a goroutine a hook
// started, is refused with lazytask.ErrHandingOver: it would run the task
// away from the scheduler, or fire the hooks again without end.
func (sc *Scope) fireGuarded(c *core.Task, kinds ...hookKind) {
	normal := false
	defer func() {
		if !normal && recover() == nil {
			sc.abandon(c, core.ErrCallbackGoexit)
		}
	}()
	sc.fire(c, kinds...)
	normal = true
}

// countRejected counts a task made for sc that the scheduler never took.
func (sc *Scope) countRejected() {
	s := sc.s
	s.lock()
	sc.count(cCreated)
	sc.count(cRejected)
	// A released scope's totals went to its parent's (gone) when it was
	// released; a task it refuses later is one of its ancestors' subtree
	// too: it goes to the gone totals of each ancestor the walk of Stats
	// no longer reaches sc from, up to the first still attached.
	for x := sc; x.parent != nil; x = x.parent {
		if _, in := x.parent.children[x]; in {
			break
		}
		x.parent.gone[cCreated]++
		x.parent.gone[cRejected]++
	}
	s.unlock()
}

// Enqueue hands a Lazy task to the root scope; see Scope.Enqueue.
func (s *Scheduler) Enqueue(h lazytask.Handle) error { return s.rootScope().Enqueue(h) }

// Force runs h now in the root scope, over the cap; see Scope.Force.
func (s *Scheduler) Force(h lazytask.Handle) error { return s.rootScope().Force(h) }

// coreOf returns the core of a handle given to Enqueue, Force or Promote. A
// nil handle, a typed nil *lazytask.Task and a zero lazytask.Task (one not
// made by lazytask.New) are ErrForeignHandle.
func coreOf(h lazytask.Handle) (*core.Task, error) {
	if h == nil {
		return nil, fmt.Errorf("%w: nil handle", ErrForeignHandle)
	}
	if v := reflect.ValueOf(h); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, fmt.Errorf("%w: nil %T", ErrForeignHandle, h)
	}
	c := core.Of(h)
	if c == nil || !core.Valid(c) {
		return nil, fmt.Errorf("%w: a zero %T, not made by lazytask.New", ErrForeignHandle, h)
	}
	return c, nil
}

// Promote moves a Queued task to the head of the queue, ahead of every
// queued task whatever its priority; several promoted tasks keep their
// promote order. Promoting a task that is already promoted changes nothing
// (it keeps its place, and Stats.Promoted does not count it again). It
// returns ErrNotQueued if h is not queued in this scheduler.
func (s *Scheduler) Promote(h lazytask.Handle) error {
	s.rootScope() // a nil or zero Scheduler panics with its message
	c, err := coreOf(h)
	if err != nil {
		return err
	}
	st := s.lockFor(c)
	sc := s.scopeOf(c)
	if st != core.Queued || sc == nil {
		s.unlock()
		return fmt.Errorf("%w: task is %v", ErrNotQueued, lazytask.State(st))
	}
	if !core.Promoted(c) {
		s.promotes++
		*core.OrderWord(c) = s.promotes
		core.SetPromoted(c, true)
		sc.q.Promote(c)
		sc.head = nil // its key changed even if it stays sc's head: place it again
		sc.placeLocked()
		sc.count(cPromoted)
	}
	s.admitAllLocked()
	s.unlock()
	return nil
}

// Resize changes the scheduler's cap at run time. Raising it admits waiting
// tasks at once; lowering it lets running tasks finish and admits nothing
// until the slots in use are below the new cap. It returns ErrInvalidLimit
// below 1. Scope.Resize changes a scope's own cap.
func (s *Scheduler) Resize(n int) error { return s.rootScope().Resize(n) }

// Stats are a scheduler's counters at one moment.
type Stats struct {
	// Limit is the cap (0 when Unlimited is true).
	Limit     int
	Unlimited bool
	// InUse is the number of slots taken by tasks admitted under the cap.
	InUse int
	// Queued and Running count tasks waiting and running now; Running
	// includes the OverCap tasks.
	Queued, Running int
	// OverCap is the number of tasks running over the cap now, and
	// OverCapSlots their slots: tasks force-run, and tasks back from a
	// wait cut short by its context while their slots were taken, until
	// those slots are free again (I9).
	OverCap, OverCapSlots int
	// Lazy counts the tasks made with NewTask that are still Lazy, bound
	// to a scope.
	Lazy int
	// Totals since New. Created counts every task made for the scheduler:
	// by Submit, Go, SubmitWait and NewTask (also those refused), and tasks
	// of lazytask.New that Enqueue or Force took. Rejected counts those it
	// never took (bad input, ErrClosed, ErrQueueFull, ErrScopeCanceled,
	// ErrWeightTooLarge at submit); they are not counted in Failed or
	// Canceled, and their handles say so (lazytask.Info.Rejected). At any
	// moment
	//
	//	Created = Succeeded + Failed + Canceled + Rejected + Queued + Running + Lazy
	//
	// Submitted counts the tasks queued or started (force-runs of Lazy
	// tasks included).
	Created, Rejected                                           uint64
	Submitted, Succeeded, Failed, Canceled, ForceRuns, Promoted uint64
}

// Stats returns the scheduler's counters. They count a task's end as soon
// as it is decided, which may be a moment before a Done channel taken
// before the end is closed (see lazytask.Task.Done).
func (s *Scheduler) Stats() Stats {
	s.rootScope() // a nil or zero Scheduler panics with its message
	s.lock()
	defer s.unlock()
	lim := &s.root.lim
	return Stats{
		Limit: int(lim.Limit()), Unlimited: lim.Unlimited(), InUse: int(lim.InUse()),
		Queued: s.queued, Running: s.running, OverCap: s.overTasks, OverCapSlots: int(s.forced),
		Lazy: s.lazy,
	}.withTotals(&s.stats)
}

// withTotals sets the running totals of st from c.
func (st Stats) withTotals(c *counters) Stats {
	st.Created, st.Rejected, st.Submitted = c[cCreated], c[cRejected], c[cSubmitted]
	st.Succeeded, st.Failed, st.Canceled = c[cSucceeded], c[cFailed], c[cCanceled]
	st.ForceRuns, st.Promoted = c[cForceRuns], c[cPromoted]
	return st
}

// Released reports whether the scope can take no task again: its context
// is done (canceled, timed out or shut down) and its subtree holds no
// queued, running or Lazy task. A scope of the same path made later is
// another scope: a collector that keys scopes by path shows the live one.
// It costs one context check for a live scope.
func (sc *Scope) Released() bool {
	if sc.Context().Err() == nil {
		return false
	}
	st := sc.Stats()
	return st.Queued == 0 && st.Running == 0 && st.Lazy == 0
}

// Stats returns the counters of the scope's subtree, with the fields and
// the identity of Scheduler.Stats: Limit and Unlimited are the scope's own
// cap (Unlimited when it has none of its own); InUse the slots its
// subtree's tasks take; Queued, Running, OverCap and Lazy its subtree's
// tasks now; the totals count its subtree's tasks since it was made, those
// of child scopes already released included. For the root scope it is
// Scheduler.Stats. Like Snapshot it walks the subtree under the
// scheduler's lock.
func (sc *Scope) Stats() Stats {
	s := sc.sched()
	if sc == s.root {
		return s.Stats()
	}
	s.lock()
	defer s.unlock()
	st := Stats{Limit: int(sc.lim.Limit()), Unlimited: sc.lim.Unlimited(), InUse: int(sc.lim.InUse())}
	var tot counters
	sc.walk(func(x *Scope) {
		st.Queued += x.q.Len()
		st.Running += x.running.Len()
		st.Lazy += x.lazy.Len()
		x.running.Each(func(c *core.Task) {
			if core.OverCap(c) {
				st.OverCap++
				st.OverCapSlots += int(core.Weight(c))
			}
		})
		tot.add(&x.stats)
		tot.add(&x.gone)
	})
	if st.Unlimited {
		st.Limit = 0
	}
	return st.withTotals(&tot)
}

// logError logs msg at level Error with the scheduler's logger. A logger is
// user code: a panic in its handler is dropped (that line is lost), so that
// it cannot crash the goroutine that ends a task or runs its hooks.
func (s *Scheduler) logError(msg string, args ...any) { s.logErrorThen(nil, msg, args...) }

// logErrorThen is logError where the caller has work left after it: if the
// logger's handler calls runtime.Goexit, rest (if not nil) runs on a
// goroutine of the scheduler's, as for a hook that does.
func (s *Scheduler) logErrorThen(rest func(), msg string, args ...any) {
	normal := false
	defer func() {
		if normal {
			return
		}
		if recover() == nil && rest != nil {
			s.goTracked(rest)
		}
	}()
	s.cfg.logger.Error(msg, args...)
	normal = true
}
