package scheduler

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
)

// Scope is a node of the scheduler's task tree. Every task runs in exactly
// one scope and its context derives from the scope's. A scope carries an
// optional cap nested in its ancestors' caps, an error policy (supervise,
// the default, or fail-fast), hooks its children inherit, and a life: it
// can be canceled (its subtree with it) and shut down gracefully.
//
// Make scopes with Scope.NewScope; the root is Scheduler.Root. The zero
// value is not usable. All methods are safe for concurrent use; called on a
// nil *Scope they panic with "scheduler: method called on a nil *Scope",
// and on a zero Scope with "scheduler: method called on a zero Scope (make
// one with Scope.NewScope)"; Submit and the other functions of this package
// that take a Spawner return ErrNilScope for both (those of factory and
// errgroup call the methods, and so panic for a zero one).
type Scope struct {
	// The fields are grouped by cache line (64 bytes; the struct is in
	// a size class whose objects start on a line): with 10,000 scopes
	// each task's scope has left the cache by the time its next task
	// comes, so each line a task's submit, admission and end touch is a
	// miss (W7). TestScopeHotLines keeps the grouping.
	//
	// Line 0, read by every submit and admission, written only when the
	// scope is made. sharer is the nearest scope on the path to the root
	// (sc itself included) that has a shared limit, or nil; shared is
	// sc's own.
	s      *Scheduler
	parent *Scope
	sharer *Scope
	ctx    context.Context
	// deadline is the scope's (or an ancestor's) deadline in core.Now
	// units, 0 if none: admission skips a scope past it.
	deadline int64
	cancel   context.CancelCauseFunc
	hooked   bool
	// timedHooks: hooks of the scope or above asked for timings
	// (Hooks.Timings); its tasks keep them.
	timedHooks bool
	// startHooks: the scope has OnStart hooks (its tasks are MarkHooked).
	startHooks bool
	// doneHooks: the scope has OnDone hooks.
	doneHooks bool
	// fastOK: submits to the scope may use its inbox (the scheduler's
	// queue is unbounded and no deadline is on the scope's path).
	fastOK bool
	policy policy

	// Line 1: what a running task reads of its scope (bind), and what
	// the scope's own events read.
	bind    core.Binding
	stopTTL func() bool
	handler func(lazytask.Info, error)
	hooks   hookTable // inherited and own; lines 2 and 3

	// The submit inbox (inbox.go): tasks pushed without the lock, and the
	// scope's place on the scheduler's list of scopes to drain. Every push
	// writes it, so it has a line of its own, away from the lines above
	// (read on every submit) and below (written under the lock).
	_         [48]byte
	inbox     core.Inbox
	dirtyNext *Scope
	_         [48]byte

	// Under s.mu from here. Lines 5 to 7 and 9 are what every task's
	// queueing, admission and end touch; what only the scope's own events
	// touch (closing, errors, children, Snapshot) comes after or fills.
	//
	// Line 5.
	lim   limiter.Counter
	tasks int // queued and running tasks of the subtree
	// admission order (ready.go)
	head *core.Task // the head of q when sc was last placed
	key  headKey    // head's key
	in   *scopeHeap // s.ready or the parked heap sc is in, or nil
	// Line 6.
	q    core.Queue
	woke *Scope // the scope whose room woke sc, until sc uses it
	// Line 7, and parked's other fields on line 8: parked.len reads
	// only xs and rlive, its first two fields.
	running core.List
	parked  scopeHeap // scopes whose head waits for room (or a permit) here
	_       [8]byte
	// Line 9, with stats' first five counters, those every task moves;
	// the other three are on line 10.
	hid    int32 // its id in s.hids while in is not nil, else -1
	dead   bool  // canceled: nothing more runs here
	detach bool  // shut down from inside: detach once the last task ends
	idle   chan struct{}
	// insiders counts, per running task of the subtree, the Wait and
	// Shutdown calls it makes (from any of its goroutines): waits leave
	// those tasks out, each once, until the calls return or the task ends.
	insiders map[*core.Task]int32
	stats    counters // totals of the scope's own tasks

	name      string
	shared    *shared
	children  map[*Scope]struct{}
	lazy      core.List
	closed    bool
	cause     error
	failed    bool
	errs      []error
	shutdowns int
	// ownShutdowns counts the calls of Shutdown on the scope itself (not
	// those its parent's Shutdown makes); under s.mu.
	ownShutdowns int
	made         int      // children made, for default names
	gone         counters // totals of released child scopes' subtrees
	// cutByClose: the scope was canceled by a Shutdown's end of grace or
	// escalation (cancelClosingLocked), not by a failure or Cancel.
	cutByClose bool
}

// farAway is a time left before a deadline that no program waits out (about
// 146 years): a deadline further away than that is not checked at admission,
// and core.Now plus it cannot overflow.
const farAway = time.Duration(math.MaxInt64 / 2)

func newScope(s *Scheduler, parent *Scope, cfg config) *Scope {
	sc := &Scope{s: s, parent: parent, name: cfg.name, policy: cfg.policy, handler: cfg.handler, hid: -1}
	pctx := context.Background()
	if parent == nil && cfg.base != nil {
		pctx = cfg.base
	}
	if parent != nil {
		pctx = parent.ctx
		for k := range parent.hooks {
			sc.hooks[k] = append([]hookFunc(nil), parent.hooks[k]...)
		}
		sc.bind.NoRecover = parent.bind.NoRecover
	}
	if parent != nil {
		sc.timedHooks = parent.timedHooks
	}
	for _, h := range cfg.hooks {
		sc.hooks.add(h)
		sc.timedHooks = sc.timedHooks || h.Timings
	}
	sc.hooked = sc.hooks.any()
	if parent != nil {
		sc.sharer = parent.sharer
	}
	if cfg.shared != nil {
		sc.shared = &shared{lim: cfg.shared}
		sc.sharer = sc
	}
	sc.startHooks = len(sc.hooks[hookStart]) > 0 || s.cfg.pprofLabels
	sc.doneHooks = len(sc.hooks[hookDone]) > 0
	sc.bind.NoRecover = sc.bind.NoRecover || cfg.noRecover
	sc.bind.Owner = (*owner)(sc)
	sc.bind.Foreign = s.cfg.executor()
	sc.bind.Clock = s.clk
	sc.ctx, sc.cancel = context.WithCancelCause(pctx)
	deadline := cfg.deadline
	if cfg.timeout > 0 {
		if d := core.At(s.now()).Add(cfg.timeout); deadline.IsZero() || d.Before(deadline) {
			deadline = d
		}
	}
	if parent != nil {
		sc.deadline = parent.deadline
	}
	if !deadline.IsZero() {
		// A deadline past what core.Now can count (WithTimeout of
		// math.MaxInt64, year 9999) is no practical limit: admission
		// ignores it, the context still carries it.
		if left := deadline.Sub(s.clk.Time()); left < farAway {
			if d := s.now() + int64(left); sc.deadline == 0 || d < sc.deadline {
				sc.deadline = d
			}
		}
		parentCancel := sc.cancel
		if s.clk == nil {
			var stop context.CancelFunc
			sc.ctx, stop = context.WithDeadline(sc.ctx, deadline)
			sc.cancel = func(cause error) { parentCancel(cause); stop() }
		} else {
			var stop context.CancelCauseFunc
			sc.ctx, stop = core.WithClockDeadline(sc.ctx, s.clk, deadline)
			sc.cancel = func(cause error) { parentCancel(cause); stop(cause) }
		}
		// The timeout's cancellation runs on a goroutine of the context
		// package; ttl lets Scheduler.Shutdown wait for it, so that no
		// callback or hook it triggers outlives the scheduler.
		s.ttl.Add(1)
		stopAfter := context.AfterFunc(sc.ctx, func() {
			defer s.ttl.Done()
			s.runTimed(func() { sc.Cancel(context.Cause(sc.ctx)) })
		})
		sc.stopTTL = func() bool {
			if stopAfter() {
				s.ttl.Done()
				return true
			}
			return false
		}
	}
	switch {
	case parent == nil && cfg.unlimited:
		sc.lim.SetUnlimited()
	case parent == nil || cfg.limitSet:
		_ = sc.lim.Init(cfg.limit)
	}
	sc.fastOK = s.cfg.queueLimit == 0 && sc.deadline == 0
	return sc
}

// NewScope makes a child scope with the given options (WithName, WithLimit,
// FailFast, Supervise, WithTimeout, WithDeadline, WithHooks,
// WithoutPanicRecovery). It returns ErrClosed if sc is shutting down,
// ErrScopeCanceled if it was canceled, and an error wrapping
// ErrInvalidOption or ErrInvalidLimit for bad options.
//
// The child stays in sc's tree (Snapshot, Stats, its parent's Shutdown)
// until it is canceled, times out or is shut down; then it is released
// once its last task has ended (I12). Wait does not release it: a scope
// made per request or per call must end with Shutdown (or Cancel), or
// each one is kept until sc closes.
func (sc *Scope) NewScope(opts ...Option) (*Scope, error) {
	sc.sched() // a nil *Scope panics with a message naming it
	cfg := config{policy: supervise}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.shared != nil && sc.sharer != nil {
		// A scope's tasks hold a permit of the nearest shared limit on
		// their path only: one inside another would let them bypass the
		// outer one's cap.
		return nil, fmt.Errorf("%w: WithSharedLimit in a scope under %q, which has a shared limit: shared limits do not nest", ErrInvalidOption, sc.sharer.name)
	}
	s := sc.s
	s.lock()
	defer s.unlock()
	if err := sc.refuseLocked(0); err != nil {
		return nil, err
	}
	child := newScope(s, sc, cfg)
	sc.made++
	if child.name == "" {
		child.name = fmt.Sprintf("%s/%d", sc.name, sc.made)
	}
	if sc.children == nil {
		sc.children = make(map[*Scope]struct{})
	}
	sc.children[child] = struct{}{}
	return child, nil
}

func (sc *Scope) target() *Scope {
	if sc == nil || sc.s == nil {
		return nil // nil or zero: ErrNilScope
	}
	return sc
}

// Context returns the scope's context: the parent of its tasks' contexts.
// It is canceled when the scope is canceled, times out or has shut down.
func (sc *Scope) Context() context.Context { sc.sched(); return sc.ctx }

// Name returns the scope's name.
func (sc *Scope) Name() string { sc.sched(); return sc.name }

// Parent returns the parent scope, or nil for the root.
func (sc *Scope) Parent() *Scope { sc.sched(); return sc.parent }

// Scheduler returns the scheduler the scope belongs to.
func (sc *Scope) Scheduler() *Scheduler { return sc.sched() }

// Resize changes the scope's own cap at run time (for the root scope: the
// scheduler's cap). Raising it admits waiting tasks at once; lowering it
// lets running tasks finish. It returns ErrInvalidLimit below 1. Queued
// tasks of the subtree heavier than the new cap could never be admitted:
// they end Failed with ErrWeightTooLarge, as they would have at submit, and
// their scopes' policies see that error as any task's failure (a fail-fast
// scope is canceled, a supervisor's handler called); a SubmitWait that
// waits for queue room for such a task returns ErrWeightTooLarge.
func (sc *Scope) Resize(n int) error {
	sc.sched() // a nil *Scope panics with a message naming it
	if n < 1 {
		return fmt.Errorf("%w: %d", ErrInvalidLimit, n)
	}
	s := sc.s
	s.lock()
	lowered := sc.lim.Unlimited() || int64(n) < sc.lim.Limit() // a first cap lowers it from none
	_ = sc.lim.SetLimit(int64(n))
	if !lowered && sc.parent != nil {
		sc.wakeLocked() // a raised cap has room for what was parked here
	}
	var ended []*core.Task
	var failed []deferredReport // the scope and error of each in ended
	if lowered {
		// A SubmitWait waiting for queue room for a task that no longer
		// fits looks again, and is refused, as a submit now would be.
		s.wakeRoomLocked()
		sc.walk(func(x *Scope) {
			var heavy []*core.Task
			x.q.Each(func(c *core.Task) {
				if core.Weight(c) > int64(n) {
					heavy = append(heavy, c)
				}
			})
			for _, c := range heavy {
				err := fmt.Errorf("%w: weight %d, cap %d of scope %q after Resize", ErrWeightTooLarge, core.Weight(c), n, sc.name)
				if x.endUnstartedLocked(c, core.Failed, err) {
					ended = append(ended, c)
					failed = append(failed, deferredReport{sc: x, err: err})
				}
			}
		})
	}
	s.unlockFailedUnstarted(ended, failed)
	return nil
}

// unlockFailedUnstarted applies the policies to the tasks that s.mu's
// holder ended Failed without running them (ended, with failed[i] the
// scope and error of ended[i]), as to tasks that failed running: a
// fail-fast scope fails, a supervisor's handler gets a report. It admits
// what their slots and places let in, unlocks s.mu and runs what follows
// their ends.
func (s *Scheduler) unlockFailedUnstarted(ended []*core.Task, failed []deferredReport) {
	for i, f := range failed {
		if f.sc.policy == failFast {
			f.sc.failLocked(f.err)
		} else {
			f.info = infoOf(ended[i])
			s.reports = append(s.reports, f)
		}
	}
	s.admitAllLocked()
	if len(failed) == 0 {
		s.unlockFinishing(ended)
		return
	}
	// After the callbacks and done hooks, as for a task that failed
	// running: the supervisors' handler calls, and what fail-fast errors
	// canceled, all counted for Shutdown's wait.
	s.unlockFinishingThen(ended, func() { s.flushDeferred(nil) })
}

// Enqueue hands a Lazy task to the scope's queue. The task may be unbound
// (made with lazytask.New) or bound to this scope (made with NewTask). It
// returns ErrNotQueued (wrapped with the task's state) if the task is not
// Lazy, ErrForeignHandle if it is bound to another scope,
// ErrWeightTooLarge, ErrClosed, ErrScopeCanceled or ErrQueueFull; on error
// the task is left as it was, so the caller may start it, retry or cancel
// it. A create or queue hook of the scope that cancels or force-runs the
// task (see Hooks) ends the handoff: Enqueue then returns ErrNotQueued
// with the state the hook left the task in, Running for a force-run.
func (sc *Scope) Enqueue(h lazytask.Handle) error {
	sc.sched() // a nil *Scope panics with a message naming it
	c, err := coreOf(h)
	if err != nil {
		return err
	}
	// A task whose hooks run before another handoff (a hook of its, or a
	// goroutine racing that handoff, calls Enqueue) is refused: firing the
	// hooks again would recurse without end.
	if sc.hooked && core.StateOf(c) == core.Lazy {
		// Before the handoff, so that OnQueue comes before OnStart; a
		// refused handoff leaves the task Lazy and fires nothing more. A
		// task made elsewhere is new to the scope's hooks.
		if !core.BeginHooks(c) {
			return errHandingOver // another handoff is under way
		}
		return handOffHooked(c, func() {
			if core.Bound(c) == nil {
				sc.fireGuarded(c, hookCreate, hookQueue)
			} else {
				sc.fire(c, hookQueue)
			}
		}, func() error { return sc.enqueue(c, false, false) })
	}
	if core.Hooking(c) {
		return errHandingOver
	}
	return sc.enqueue(c, false, false)
}

// Force runs h now, over the cap, whatever waits in the queue: h may be
// Queued in this scheduler (it runs in its own scope), or Lazy (it runs in
// the scope it is bound to, or in sc). The run bypasses every cap on the
// way, a weight above a cap included (Enqueue would refuse such a task
// with ErrWeightTooLarge; Force is the explicit way past it), and is
// counted in Stats.OverCap while it lasts and in Stats.ForceRuns. Calling
// h.Start() on a queued task does the same. Force
// returns ErrNotQueued for a task in another state or queued in another
// scheduler, ErrForeignHandle for a nil or zero handle or a Lazy task bound
// to another scheduler, ErrClosed or ErrScopeCanceled for a Lazy task in a
// closed or canceled scope. A task made elsewhere (lazytask.New) fires
// the scope's OnCreate hooks first, as Enqueue does; a hook that cancels
// or force-runs it ends that Force with ErrNotQueued and the state the
// hook left the task in.
func (sc *Scope) Force(h lazytask.Handle) error {
	sc.sched() // a nil *Scope panics with a message naming it
	c, err := coreOf(h)
	if err != nil {
		return err
	}
	// A task made elsewhere (lazytask.New) is new to the scope's hooks, as
	// for Enqueue: OnCreate sees it before it starts. One whose handoff is
	// under way (a hook of its own force-runs it) has had its OnCreate.
	if sc.hooked && core.Bound(c) == nil && core.BeginHooks(c) {
		return handOffHooked(c, func() { sc.fireGuarded(c, hookCreate) }, func() error { return sc.force(c) })
	}
	return sc.force(c)
}

// handOffHooked fires the hooks of c, a Lazy task that BeginHooks marked
// (fire), then hands it over (hand). A refused handoff, or a hook's
// Goexit, takes the mark off: the task is Lazy as it was, and startable.
func handOffHooked(c *core.Task, fire func(), hand func() error) error {
	handed := false
	defer func() {
		if !handed {
			core.EndHooks(c)
		}
	}()
	fire()
	err := hand()
	handed = err == nil
	return err
}

// Cancel cancels the scope and its subtree with cause (context.Canceled if
// nil): queued tasks end Canceled without running, running ones see their
// context canceled with that cause (context.Cause), Lazy tasks bound to the
// subtree end Canceled, and the scope stays canceled: a task submitted later
// never runs. Cancel does not wait; Wait or Shutdown does.
func (sc *Scope) Cancel(cause error) {
	sc.sched() // a nil *Scope panics with a message naming it
	if cause == nil {
		cause = context.Canceled
	}
	s := sc.s
	s.lock()
	ended := sc.cancelTreeLocked(cause)
	s.admitAllLocked() // a canceled head that held up the others frees them
	s.unlockFinishing(ended)
}

// Err returns the joined errors a fail-fast scope has collected so far, and
// nil for a supervisor.
func (sc *Scope) Err() error {
	s := sc.sched()
	s.lock()
	defer s.unlock()
	return joinErrs(sc.errs)
}
