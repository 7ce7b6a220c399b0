package core

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
	"weak"

	"github.com/lazysched/lazysched/internal/check"
)

// State is a task's place in its life cycle. The values match lazytask.State.
type State uint32

// The public states, in life-cycle order.
const (
	Lazy State = iota
	Queued
	Running
	Succeeded
	Failed
	Canceled
)

// Transit states: the goroutine that won the compare-and-swap into one of
// them is the only writer of the task's fields until it stores the state the
// transit leads to. Readers treat them as the state they lead from or to, as
// State documents.
const (
	toQueued   State = 8 + iota // Lazy → Queued (enqueue)
	toRunning                   // Lazy → Running (standalone start, force)
	toCanceled                  // Lazy → Canceled (cancel before enqueue)
)

const (
	stateMask    = 0xF
	flagSlow     = 1 << 4  // a done channel or callback exists: finishSlow must run at the end
	flagCtxDone  = 1 << 5  // the task's context is canceled (cancel, timeout or end)
	flagOverCap  = 1 << 6  // the task was force-run over its owner's cap
	flagHooked   = 1 << 7  // the owner wants Starting before the function runs
	flagPromoted = 1 << 8  // the owner promoted the task to the head of its queue
	flagLentOver = 1 << 10 // the task lent its slots while running over the cap
	flagNeverRan = 1 << 11 // admitted, but ended without running its function
	// 1 << 9 is flagInbox (inbox.go), 1 << 12 flagClockMade (clock.go),
	// 1 << 13 flagAwaited (awaiters.go), 1 << 14 flagTimed (timings.go).
	// 1 << 15 is free.
	flagRejected = 1 << 16 // refused by the scheduler it was made for: never queued
	flagHooking  = 1 << 17 // a scheduler's create or queue hooks run before its handoff
	flagBound    = 1 << 18 // bound to an owner while Lazy (BindLazy); never cleared
)

func terminal(s uint32) bool {
	st := State(s & stateMask)
	return st >= Succeeded && st <= Canceled
}

// Runner is the typed half of a task: lazytask implements it once per result
// type. Its dynamic value is the user's function, so storing it costs no
// allocation.
type Runner interface {
	// Call runs the function with ctx, stores its typed result in the task
	// that embeds c, and returns the function's error.
	Call(c *Task, ctx context.Context) error
	// Handle returns the typed handle that embeds c.
	Handle(c *Task) any
}

// Owner is what a scheduler implements to queue and run tasks. Its methods
// may be called from any goroutine.
type Owner interface {
	// Context is the parent of the contexts of the owner's tasks.
	Context() context.Context
	// Release is called once, when a task the owner admitted has returned.
	// Under its lock it frees the task's slots, counts the outcome and calls
	// PublishLocked(c, st, err). It reports in after whether user code is
	// to run for the ended task (done callbacks, which PublishLocked
	// reports, an error handler, done hooks), and where:
	//   - AfterHere: Finished must be called on this goroutine, and the
	//     owner starts the tasks its freed slots admit on goroutines of
	//     their own, so that no user code of c delays them (I11);
	//   - AfterElsewhere: the owner runs that code on a goroutine of its
	//     own (then drops c's run context, DropRunCtx), and next may be a
	//     task for this goroutine;
	//   - AfterNone: nothing is to run for c.
	// Unless after is AfterHere it may return the next task for this
	// goroutine to Execute, already Running. If exiting is true the calling
	// goroutine is about to exit (runtime.Goexit) and next is nil.
	Release(c *Task, st State, err error, exiting bool) (next *Task, after After)
	// Finished runs the owner's user code for an ended task (error policy,
	// done hooks), after its done callbacks, outside any lock.
	Finished(c *Task, st State, err error)
	// Starting is called before the function runs, for tasks marked with
	// MarkHooked, with the task's context; it returns the context the
	// function runs with (one derived from ctx: start hooks may add a
	// span, pprof labels). If a hook calls runtime.Goexit, the owner goes on
	// with the remaining hooks and then ExecuteStarted on a goroutine of its
	// own.
	Starting(c *Task, ctx context.Context) context.Context
	// Cancel takes a Lazy task bound to the owner, or a Queued one, out of
	// the owner's lists: under its lock it calls CancelLocked and unlinks
	// the task. It reports false if the task was neither.
	Cancel(c *Task, cause error) bool
	// Force runs a Queued (or bound Lazy) task now, over the cap.
	Force(c *Task) error
	// Report receives panics (and runtime.Goexit calls) from done
	// callbacks.
	Report(c *Task, err error)
	// Go runs f on a new goroutine that the owner waits for when it shuts
	// down: user code that called runtime.Goexit leaves the rest of its
	// work to such a goroutine.
	Go(f func())
}

// After says where the user code that follows a task's end runs (see
// Owner.Release).
type After uint8

const (
	// AfterNone: no user code follows the end.
	AfterNone After = iota
	// AfterHere: it runs on the goroutine that ended the task (Finished).
	AfterHere
	// AfterElsewhere: the owner runs it on a goroutine of its own.
	AfterElsewhere
)

// Binding lets a task refer to its owner with one word.
type Binding struct {
	Owner Owner
	// NoRecover lets panics in the owner's tasks crash the program instead
	// of ending the task with a PanicError.
	NoRecover bool
	// Foreign: the owner's tasks run on goroutines of an executor, which
	// may recover a panic that NoRecover lets through; such a task ends
	// Failed before its panic goes on, so that it cannot stay Running.
	Foreign bool
	// Clock, if not nil, is the owner's clock: the timings of its tasks,
	// their timeouts and deadlines follow it. Nil is the runtime's clock.
	Clock *Timebase
}

// Task is the type-erased part of a lazytask.Task[T]. Its zero value is a
// Lazy task with no function; use Init.
type Task struct {
	// node, the queue links, owned by the owner's lock, is the first
	// field: a list's sentinel is a bare node, and a node that is not a
	// sentinel is its task (taskOf).
	node
	state atomic.Uint32
	prio  int32
	owner atomic.Pointer[Binding] // written under the owner's lock, read anywhere
	x     atomic.Pointer[ext]
	fn    Runner
	// order is the owner's FIFO key (SetOrder). The timings, for a task
	// that keeps them, are in the extension (timings.go).
	order int64
}

// ext holds what most tasks never need: options beyond the priority, the
// error, waiters, callbacks and the context's cancellation.
type ext struct {
	t        timings // flagTimed only
	weight   int64
	timeout  time.Duration
	deadline time.Time
	meta     any
	owner    int64 // OwnerWord
	order    int64 // OrderWord

	err error // written before the terminal state is stored
	// panicked: the task's own function panicked, and err is the
	// PanicError made then (not one it returned); written with err.
	panicked bool

	mu       sync.Mutex
	done     chan struct{}
	ended    bool
	cbs      []func()
	draining bool
	// claimed: the path that ended the task holds the drain (draining is
	// set for it) and has yet to run the callbacks registered before the
	// end; nobody else runs them (PublishLockedWake, finishLocked).
	claimed bool
	// registered and ran count callbacks for the invariant checks.
	registered, ran int
	// doneTakes counts the calls that took done (DoneFor), for ForgetDone.
	doneTakes uint64

	// carried is the context of the code that made the task (lazytask's
	// WithContext, WithValues): its values come before the owner's, and if
	// cancels is set its cancellation cancels the task; carryStop ends that
	// watch (it may fire before Init has stored it, hence the atomic).
	//
	// The watch holds the task weakly until someone observes it (Done,
	// OnDone: observe), and then strongly through held, until its end: a
	// Lazy task its maker dropped, that nobody waits for, is garbage even
	// while the context lives, and unwatch, a cleanup of the task, then
	// ends the watch (I12).
	carried   context.Context
	cancels   bool
	carryStop atomic.Pointer[func() bool]
	held      atomic.Pointer[Task]
	unwatch   runtime.Cleanup

	// awaiters are running tasks that lent their slots to wait for this
	// one (flagAwaited), for the owner to hand them back first when it
	// ends; see awaiters.go.
	awaiters []*Task
	// gates are waits of running tasks on this task among others (Gate):
	// TakeAwaiters returns the task of each one that is waiting.
	gates []*Gate

	// runCtx is the context the function ran with when start hooks gave
	// it one (written before the function runs, by the running goroutine).
	runCtx context.Context

	ctxDone    chan struct{}
	ctxClosed  bool
	ctxErr     error
	ctxCause   context.Context // a canceled cancelCtx that carries the cause
	parentStop func() bool
	afters     []*afterFunc
	// aftersStopped counts the stopped after-funcs still in afters.
	aftersStopped int
	timer         *time.Timer
	stopTimer     func() bool // the timer on a Timebase's clock
	// queueStop stops the timer that ends the task when its own deadline
	// passes while it waits in its owner's queue (ArmQueueDeadline); the
	// owner's lock guards it.
	queueStop func() bool
}

type afterFunc struct {
	f    func()
	done bool
}

// Options are the per-task settings core needs. Meta is kept for the typed
// layer (lazytask's Options) and returned by Meta.
type Options struct {
	Priority int32
	Weight   int64
	Timeout  time.Duration
	Deadline time.Time
	Meta     any
	// Ctx is carried by the task: its values reach the task's context, and
	// if Cancels is set its cancellation cancels the task.
	Ctx     context.Context
	Cancels bool
	// Timed asks for the task's timings (a timeout implies it: it counts
	// from the start).
	Timed bool
}

// Init prepares a Lazy task. It allocates nothing beyond the task itself
// unless opts need more than the priority.
func Init(c *Task, fn Runner, opts *Options) {
	c.fn = fn
	if opts != nil {
		c.prio = opts.Priority
		timed := opts.Timed || opts.Timeout > 0
		if opts.Weight > 1 || timed || !opts.Deadline.IsZero() || opts.Meta != nil || opts.Ctx != nil {
			x := &ext{weight: opts.Weight, timeout: opts.Timeout, deadline: opts.Deadline, meta: opts.Meta, carried: opts.Ctx}
			if timed {
				x.t.created = Now()
				c.state.Store(flagTimed) // nobody sees c yet
			}
			x.cancels = opts.Cancels && opts.Ctx != nil && opts.Ctx.Done() != nil
			c.x.Store(x)
			if x.cancels {
				if opts.Ctx.Err() != nil {
					// Canceled already: the task ends now, as its maker
					// sees it, not when the watch's goroutine would get
					// round to it (a Submit would queue it meanwhile).
					cancelCarried(c, opts.Ctx)
				} else {
					watchCarried(c, x, opts.Ctx)
				}
			}
		}
	}
}

// watchCarried cancels c when ctx, the context it carries, is done. The
// watch holds c weakly (see ext.held): a cleanup of c ends it, once c is
// garbage. Under Init, before anyone sees c.
func watchCarried(c *Task, x *ext, ctx context.Context) {
	// The cleanup first: the watch may fire (and end c) at once, and the
	// end reads unwatch.
	x.unwatch = runtime.AddCleanup(c, unwatchCarried, x)
	w := weak.Make(c)
	stop := context.AfterFunc(ctx, func() {
		t := x.held.Load()
		if t == nil {
			t = w.Value() // nil: c was dropped unobserved, nobody can tell
		}
		if t != nil {
			cancelCarried(t, ctx)
		}
	})
	x.carryStop.Store(&stop)
}

// unwatchCarried ends the watch of x's carried context (its task's end,
// or its cleanup).
func unwatchCarried(x *ext) {
	if stop := x.carryStop.Swap(nil); stop != nil {
		(*stop)()
	}
}

// observe makes the watch of c's carried context, if any, hold c strongly:
// a done channel or a callback of c's is out, and c's cancellation must
// reach them even if nobody else holds c.
func observe(c *Task, x *ext) {
	if x.cancels && x.held.Load() == nil && !terminal(c.state.Load()) {
		x.held.Store(c)
	}
}

// InitFailed prepares a task that is already Failed with err (bad input).
func InitFailed(c *Task, fn Runner, err error) {
	c.fn = fn
	x := &ext{err: err, ended: true}
	x.t.created = Now()
	x.t.finished = x.t.created
	c.x.Store(x)
	dropFn(c) // it never runs
	c.state.Store(uint32(Failed) | flagTimed)
}

func getX(c *Task) *ext {
	if x := c.x.Load(); x != nil {
		return x
	}
	n := &ext{}
	if c.x.CompareAndSwap(nil, n) {
		return n
	}
	return c.x.Load()
}

// StateOf reports the public state. Transit states read as the state they
// lead to, except toQueued, which reads as Lazy until the enqueue is done.
func StateOf(c *Task) State { return publicState(c.state.Load()) }

func publicState(s uint32) State {
	switch st := State(s & stateMask); st {
	case toQueued:
		return Lazy
	case toRunning:
		return Running
	case toCanceled:
		return Canceled
	default:
		return st
	}
}

// IsDone reports whether the result is published.
func IsDone(c *Task) bool { return terminal(c.state.Load()) }

// Ended is IsDone for a reader that has seen, or may see, the task as
// ended: a task being canceled reads Canceled already (publicState), so,
// as OnDone does, it waits the few instructions until that end is
// published (no user code runs in between) rather than say "not done".
func Ended(c *Task) bool {
	for State(c.state.Load()&stateMask) == toCanceled {
		runtime.Gosched()
	}
	return terminal(c.state.Load())
}

// Err returns the published error, or ErrNotDone.
func Err(c *Task) error {
	if !Ended(c) {
		return ErrNotDone
	}
	if x := c.x.Load(); x != nil {
		return x.err
	}
	return nil
}

// Priority, Weight and Meta read the task's options.
func Priority(c *Task) int32 { return c.prio }

// Weight is the number of slots the task takes, at least 1.
func Weight(c *Task) int64 {
	if x := c.x.Load(); x != nil && x.weight > 1 {
		return x.weight
	}
	return 1
}

// Plain reports whether c has weight 1 and no deadline of its own: a task
// that an owner may queue through an inbox, with nothing to do for it until
// it is drained (a deadline's timer must start when the task is queued).
func Plain(c *Task) bool {
	x := c.x.Load()
	return x == nil || x.weight <= 1 && x.deadline.IsZero()
}

// Meta returns Options.Meta as given to Init.
func Meta(c *Task) any {
	if x := c.x.Load(); x != nil {
		return x.meta
	}
	return nil
}

func (c *Task) self() *Task { return c }

// Of returns the core of a typed handle (a value that embeds a Task), or nil.
func Of(h any) *Task {
	if s, ok := h.(interface{ self() *Task }); ok {
		return s.self()
	}
	return nil
}

// HandleOf returns the typed handle that embeds c. It reads only the
// type of c's Runner (its method table), not its function, which the end
// lets go of (dropFn): Handle does not look at the function.
func HandleOf(c *Task) any {
	var r Runner
	w := (*[2]unsafe.Pointer)(unsafe.Pointer(&r))
	w[0] = (*[2]unsafe.Pointer)(unsafe.Pointer(&c.fn))[0]
	return r.Handle(c)
}

// dropFn lets go of the function of a task that has ended, and of what it
// captured: it never runs again, and a handle kept after the end (a
// result cache, a list of futures) must not keep it alive, as
// sync.OnceValue lets go of its function. Only the function (the
// interface's data word) is cleared; its type stays, for HandleOf and
// Valid, which read nothing else. The one read of the data word, Call,
// comes before the end on the goroutine that ends the task, or never, so
// a plain store, made before the end is published, does: no locked
// instruction on the completion path.
func dropFn(c *Task) {
	(*[2]unsafe.Pointer)(unsafe.Pointer(&c.fn))[1] = nil
}

// OwnerName returns the name of the task's owner (its scope), or "" for a
// task of no scheduler.
func OwnerName(c *Task) string {
	if b := c.owner.Load(); b != nil {
		if n, ok := b.Owner.(interface{ Name() string }); ok {
			return n.Name()
		}
	}
	return ""
}

// OverCap reports whether the task was force-run over its owner's cap.
func OverCap(c *Task) bool { return c.state.Load()&flagOverCap != 0 }

// MarkRejected records that the scheduler c was made for refused it (bad
// input, a closed scope, a full queue, a weight above the cap), so that
// hooks and Info tell a refusal from a task that was canceled or failed
// once taken. Call it before c ends, or before anyone else can see c.
func MarkRejected(c *Task) { c.state.Or(flagRejected) }

// BeginHooks marks c as seen by a scheduler's create or queue hooks before
// its handoff: Start refuses it (ErrHandingOver), and so does a
// scheduler's Enqueue, which would fire the hooks again. The mark lasts
// until the task leaves Lazy (the handoff, a force-run, its end) or
// EndHooks, whichever comes first, so that a Start from a goroutine a hook
// started cannot slip in before the handoff. It reports false, marking
// nothing, if c is marked already (another handoff is under way) or no
// longer Lazy.
func BeginHooks(c *Task) bool {
	for {
		s := c.state.Load()
		if s&flagHooking != 0 || State(s&stateMask) != Lazy {
			return false
		}
		if c.state.CompareAndSwap(s, s|flagHooking) {
			return true
		}
	}
}

// BeginHooksFresh is BeginHooks for a task that nobody else can see yet:
// made by Init on this goroutine and given to no one (no owner, no handle
// out; an Exposed task takes BeginHooks's path). A plain write does then,
// where BeginHooks's compare-and-swap is a locked instruction (on amd64,
// about a fifth of what empty hooks add to a no-op task's submit). The
// write happens before whatever later publishes the task, as any other
// of Init's.
func BeginHooksFresh(c *Task) {
	if Exposed(c) {
		BeginHooks(c)
		return
	}
	p := (*uint32)(unsafe.Pointer(&c.state))
	*p |= flagHooking
}

// Exposed reports whether a task that its maker has not handed to anyone
// may still be acted on by another goroutine: its carried context cancels
// it (Options.Cancels), from the context package's goroutine, at any time
// from Init on. Such a task is never fresh to an owner (EnqueueFresh,
// EnqueueInbox's fresh): its handoff takes the compare-and-swap path.
func Exposed(c *Task) bool {
	x := c.x.Load()
	return x != nil && x.cancels
}

// EndHooks ends BeginHooks for a task that stays Lazy (bound by NewTask,
// or refused by Enqueue).
func EndHooks(c *Task) { c.state.And(^uint32(flagHooking)) }

// Hooking reports whether c is between BeginHooks and EndHooks, and still
// Lazy: a task that left Lazy (its handoff, a force-run, its end) is no
// longer being handed over, whatever the mark says (a cancel of an
// unbound Lazy task, or UndoInbox's task canceled before its retry, leaves
// it set).
func Hooking(c *Task) bool {
	s := c.state.Load()
	return s&flagHooking != 0 && State(s&stateMask) == Lazy
}

// Rejected reports whether MarkRejected was called on c.
func Rejected(c *Task) bool { return c.state.Load()&flagRejected != 0 }

// Panicked reports whether c's own function panicked (its error is the
// PanicError made then); false for a task that returned a PanicError, say
// another task's.
func Panicked(c *Task) bool {
	// The state first: panicked is written before the end is published,
	// and read only after it (a running task's Info must not race).
	if !terminal(c.state.Load()) {
		return false
	}
	x := c.x.Load()
	return x != nil && x.panicked
}

// Timings returns created, queued, started and finished as times; a zero
// time means the step has not happened (or never will).
//
// The times of a task of an owner with a clock are on that clock, except
// the created time of a task made elsewhere (lazytask.New) and handed over,
// which stays on the runtime's clock.
func Timings(c *Task) (created, queued, started, finished time.Time) {
	s := c.state.Load()
	if s&flagTimed == 0 {
		return
	}
	t := &c.x.Load().t
	// Each step is held at no earlier than the one before it on the same
	// clock: a clock stepped back (WithClock says it should not be; a
	// mock's Set, a wall clock stepped by NTP) must not give a negative
	// queue or run time, which the metrics integrations would record. Held
	// here, where the steps are read, not where they are stamped.
	at := t.created
	created = At(at)
	st := State(s & stateMask)
	if st == Lazy || st == toQueued || st == toRunning || st == toCanceled {
		return
	}
	if t.queued != 0 { // zero for a task started without a queue
		if s&flagClockMade != 0 {
			at = max(at, t.queued)
		} else {
			// Made on the runtime's clock and handed to an owner with a
			// clock of its own (lazytask.New, then Enqueue): its steps
			// from the queue on are on another clock than its creation.
			at = t.queued
		}
		queued = At(at)
	}
	if st == Queued {
		return
	}
	if st == Running || s&flagNeverRan == 0 {
		if v := t.started.Load(); v != 0 {
			at = max(at, v)
			started = At(at)
		}
		if st == Running {
			return
		}
	}
	// One that was admitted but never started its function (its deadline
	// had passed) has no start, but it did end.
	if t.finished != 0 {
		finished = At(max(at, t.finished))
	}
	return
}

var base = time.Now()

// epoch is the Now value of base: Now units count nanoseconds from about
// 73 years before the process started, so that a Timebase stamps the times
// of a clock set decades back (a mock clock starts in 1970) in the same
// units, and At converts any stamp without knowing its clock.
const epoch = 1 << 61

// maxUnits bounds the stamps of a Timebase: a stamp plus any deadline that
// admission checks (below farAway in the scheduler, 2^62 ns) stays in
// int64.
const maxUnits = 1 << 62

// Now returns the monotonic time in the units tasks store; never 0.
func Now() int64 { return int64(time.Since(base)) + epoch }

// At converts a Now value (or a Timebase's) into a time.Time; 0 gives the
// zero time.
func At(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return base.Add(time.Duration(ns - epoch))
}

// transition moves the state from one of from to to with a CAS loop that
// keeps the flags. It reports false, with the state it saw, if the state is
// not one of from.
func transition(c *Task, to State, from ...State) (uint32, bool) {
	return transitionOr(c, to, 0, from...)
}

// transitionOr is transition that also sets the flags or in the same
// compare-and-swap.
func transitionOr(c *Task, to State, or uint32, from ...State) (uint32, bool) {
	for {
		s := c.state.Load()
		st := State(s & stateMask)
		ok := false
		for _, f := range from {
			if st == f {
				ok = true
				break
			}
		}
		if !ok {
			return s, false
		}
		n := s&^stateMask | uint32(to) | or
		if st == Lazy {
			n &^= flagHooking // the handoff (or end) that the hooks fired for
		}
		if c.state.CompareAndSwap(s, n) {
			return s, true
		}
	}
}

// setState stores to, keeping the flags, and returns the old word. Only the
// goroutine that owns the task's current transit or Running state calls it.
func setState(c *Task, to State) uint32 {
	for {
		s := c.state.Load()
		if c.state.CompareAndSwap(s, s&^stateMask|uint32(to)) {
			return s
		}
	}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Done returns a channel closed once the result is published.
func Done(c *Task) <-chan struct{} {
	ch, _ := DoneFor(c)
	return ch
}

// DoneFor is Done for a wait that may end before c does (Await). If c's
// carried context cancels it and this call made the channel, it also
// returns a token for ForgetDone (0: nothing to forget).
func DoneFor(c *Task) (<-chan struct{}, uint64) {
	if terminal(c.state.Load()) {
		return closedChan, 0
	}
	x := getX(c)
	x.mu.Lock()
	made := false
	if x.done == nil {
		if x.ended {
			x.mu.Unlock()
			return closedChan, 0
		}
		x.done = make(chan struct{})
		made = true
	}
	x.doneTakes++
	var tok uint64
	if made && x.cancels {
		tok = x.doneTakes
	}
	ch := x.done
	x.mu.Unlock()
	observe(c, x)
	markSlow(c)
	return ch, tok
}

// ForgetDone takes back the done channel that DoneFor made and gave tok
// for, once the wait it was for is over before c's end, if nobody has
// taken the channel since and no callback is registered: nothing then
// observes c, and the watch of its carried context holds it weakly again
// (observe), so that a Lazy task whose Await was cut short and that its
// maker dropped is not kept by that context (I12).
func ForgetDone(c *Task, tok uint64) {
	if tok == 0 {
		return
	}
	x := c.x.Load()
	x.mu.Lock()
	if !x.ended && x.doneTakes == tok && len(x.cbs) == 0 {
		x.done = nil
		x.held.Store(nil)
	}
	x.mu.Unlock()
}

// OnDone registers f to run once, after the result is published, in
// registration order. Callbacks registered before the end run on the
// goroutine that ends the task. One registered after the end runs on the
// caller's goroutine before OnDone returns, unless callbacks registered
// earlier are still running: then it runs right after them, on their
// goroutine, so that the order holds.
func OnDone(c *Task, f func()) {
	// A task being canceled reads Canceled already (publicState): a
	// callback registered now comes after the end its registrant saw, so
	// it waits the few instructions until the end is published (no user
	// code runs in between) and then runs as one registered after it.
	for State(c.state.Load()&stateMask) == toCanceled {
		runtime.Gosched()
	}
	x := getX(c)
	// The flag first: an end from now on takes the slow path, and claims
	// the callback if it is in the list by then (registered before the
	// end); set after the append, an end in between missed it, and a
	// later registrant ran it on its own goroutine (a hostile review).
	setSlowUnlessEnded(c)
	x.mu.Lock()
	x.cbs = append(x.cbs, f)
	x.registered++
	observe(c, x)
	if terminal(c.state.Load()) && len(x.cbs) == 1 && !x.draining {
		// Registered after the end, with nothing registered before it
		// left to run: it runs here, on the registrant's goroutine, before
		// OnDone returns, even while the ender has yet to reach its drain
		// (which now finds nothing of its own and leaves it). The done
		// channel stays the ender's to close. On a goroutine whose task
		// runs, that is inside the task (I11): a wait in the callback lends
		// the task's slots, whatever context it is given, and a Shutdown
		// there leaves the task out, as for the callbacks that a Cancel
		// from inside a task runs (EnterCallbacksHere, which reads no
		// goroutine id: OnDone after the end is common, and cheap).
		x.draining = true
		defer EnterCallbacksHere()() // closed also when a callback calls runtime.Goexit
		drainLocked(c, x, false)
		return
	}
	x.mu.Unlock()
	markSlow(c)
}

// setSlowUnlessEnded sets flagSlow unless the task has ended.
func setSlowUnlessEnded(c *Task) {
	for {
		s := c.state.Load()
		if terminal(s) || s&flagSlow != 0 || c.state.CompareAndSwap(s, s|flagSlow) {
			return
		}
	}
}

// markSlow sets flagSlow unless the task has ended, in which case the caller
// runs finishSlow itself. Either the ender sees the flag or we see the end.
func markSlow(c *Task) {
	for {
		s := c.state.Load()
		if terminal(s) {
			finishLate(c, s&flagSlow != 0)
			return
		}
		if s&flagSlow != 0 || c.state.CompareAndSwap(s, s|flagSlow) {
			return
		}
	}
}

// finishLate is finishSlow for a goroutine that did not end the task and
// found it ended (a Done, an Await or an OnDone that came as it ended).
// flagged says that the end found flagSlow set: then the path that ended
// the task closes the done channel and runs the callbacks registered
// before it (PublishLockedWake claims them), and if it has yet to, the
// late comer leaves both to it. Before, it ran them itself, on its own
// goroutine: the goroutine of a waiter, which a callback could then block
// or end with runtime.Goexit.
func finishLate(c *Task, flagged bool) {
	x := c.x.Load()
	x.mu.Lock()
	if flagged && !x.ended {
		x.mu.Unlock() // the ender's PublishLockedWake is on its way
		return
	}
	finishLocked(c, x, false, false)
}

// finishSlow closes the done channel and drains the callbacks, on the path
// that ended the task (ender), or for a late comer. It is idempotent; one
// goroutine drains at a time, in registration order. ending is true on
// the path that ended the task and runs its owner's Finished after the
// callbacks, also when a callback calls runtime.Goexit.
func finishSlow(c *Task, ending, ender bool) {
	x := c.x.Load()
	x.mu.Lock()
	finishLocked(c, x, ending, ender)
}

// finishLocked is finishSlow with x.mu held; it releases it.
func finishLocked(c *Task, x *ext, ending, ender bool) {
	if !x.ended {
		x.ended = true
		if x.done != nil {
			close(x.done)
		}
	}
	if ender && x.claimed {
		x.claimed = false // the drain PublishLockedWake claimed for us
	} else if ender {
		// Nothing was registered before the end (PublishLockedWake would
		// have claimed it): a callback registered since is its
		// registrant's to run (finishLate), on its goroutine. Draining it
		// here ran it on the ender's, after the registrant's OnDone had
		// returned, where a Shutdown did not wait for it (a hostile
		// review, 2026-12-06).
		x.mu.Unlock()
		return
	} else if x.draining {
		x.mu.Unlock()
		return
	} else {
		x.draining = true
	}
	drainLocked(c, x, ending)
}

// drainLocked runs the registered callbacks one at a time, each taken off
// the list before it runs, so that a callback that calls runtime.Goexit
// leaves the others to resumeDrain. x.mu is held on entry and released on
// return.
func drainLocked(c *Task, x *ext, ending bool) {
	for len(x.cbs) > 0 {
		f := x.cbs[0]
		x.cbs[0] = nil
		x.cbs = x.cbs[1:]
		if check.Enabled {
			x.ran++
		}
		x.mu.Unlock()
		runCallback(c, f, ending)
		x.mu.Lock()
	}
	x.cbs = nil
	x.draining = false
	if check.Enabled {
		check.That(x.ran == x.registered, "callbacks: %d registered, %d ran", x.registered, x.ran)
	}
	x.mu.Unlock()
}

// resumeDrain goes on with the callbacks after one that called
// runtime.Goexit, on a new goroutine, and then with the owner's Finished if
// the drain was on the ending path.
func resumeDrain(c *Task, ending bool) {
	x := c.x.Load()
	x.mu.Lock()
	drainLocked(c, x, ending)
	if ending {
		if b := c.owner.Load(); b != nil {
			b.Owner.Finished(c, StateOf(c), Err(c))
		}
	}
}

func runCallback(c *Task, f func(), ending bool) {
	normal := false
	defer func() {
		if normal {
			return
		}
		r := recover()
		err := ErrCallbackGoexit
		if r != nil {
			err = NewPanicError(r)
		}
		if r == nil {
			// runtime.Goexit: this goroutine is exiting as asked; the
			// callbacks after f, and what follows them, go on elsewhere.
			Spawn(c, func() { resumeDrain(c, ending) })
		}
		reportCallback(c, err, r == nil, ending)
	}()
	f()
	normal = true
}

// reportCallback reports a done callback's panic or Goexit to c's owner,
// or logs it with slog's default logger. Both are user code: a panic there
// is dropped, and if one calls runtime.Goexit while the goroutine would go
// on (spawned false), the drain goes on elsewhere.
func reportCallback(c *Task, err error, spawned, ending bool) {
	normal := false
	defer func() {
		if normal {
			return
		}
		if recover() == nil && !spawned {
			Spawn(c, func() { resumeDrain(c, ending) })
		}
	}()
	if o := c.owner.Load(); o != nil {
		o.Owner.Report(c, err)
	} else {
		slog.Error("lazytask: done callback failed", "err", err)
	}
	normal = true
}

// Spawn runs f on a new goroutine, one that c's owner waits for if c has
// one.
func Spawn(c *Task, f func()) {
	if b := c.owner.Load(); b != nil {
		b.Owner.Go(f)
		return
	}
	go f()
}

// PublishLocked stores the terminal state st with err and closes the done
// channel, but runs no callback: owners call it under their lock so that
// their counters and the result change together. The caller owns the task
// (it won the transit, or it is the runner). It reports whether done
// callbacks are registered: DrainCallbacks (or, on the path that ended the
// task, AfterEnd) runs them afterwards, outside the lock.
func PublishLocked(c *Task, st State, err error) (pending bool) {
	pending, wake := PublishLockedWake(c, st, err)
	if wake != nil {
		close(wake)
	}
	return pending
}

// PublishLockedWake is PublishLocked that leaves the done channel for the
// caller to close, once it has let its lock go: closing a channel that a
// goroutine waits on readies that goroutine, and may wake an idle thread
// for it (a system call), which would lengthen the owner's critical
// section and make the other tasks that end meanwhile sleep on its lock.
// The task is terminal already, and the end recorded, so a Done or an
// Await from now on does not wait, and nobody else closes wake; the
// caller must close it (a waiter already holding the channel waits until
// then).
func PublishLockedWake(c *Task, st State, err error) (pending bool, wake chan struct{}) {
	if err != nil {
		getX(c).err = err
	}
	if t := tm(c); t != nil && t.finished == 0 {
		t.finished = nowFor(c.owner.Load())
	}
	dropFn(c) // before the publish, which orders it for every reader
	old := setState(c, st)
	if check.Enabled {
		check.That(!terminal(old), "task published twice: %v then %v", State(old&stateMask), st)
		check.That(terminal(uint32(st)), "published a non-terminal state %v", st)
	}
	if x := c.x.Load(); x != nil && x.cancels {
		unwatchCarried(x) // the carried context no longer concerns the task
		x.unwatch.Stop()
		x.held.Store(nil)
	}
	if old&flagSlow != 0 {
		x := c.x.Load()
		x.mu.Lock()
		if !x.ended {
			x.ended = true
			wake = x.done
		}
		// A callback registered from now on sees the end and runs on its
		// registrant's goroutine (or after ours, if ours still run); one
		// registered before is ours to run: the drain is claimed for
		// DrainCallbacks or AfterEnd, so that no late comer runs it.
		pending = len(x.cbs) > 0
		if pending && !x.draining {
			x.draining, x.claimed = true, true
		}
		x.mu.Unlock()
	}
	return pending, wake
}

// DrainCallbacks runs the done callbacks of a published task, on the path
// that published it.
func DrainCallbacks(c *Task) {
	if c.state.Load()&flagSlow != 0 {
		finishSlow(c, false, true)
	}
}

// AfterEnd runs the user code that follows the end of a task on the path
// that ended it: its done callbacks, then its owner's Finished. A callback
// that calls runtime.Goexit leaves the rest to another goroutine.
func AfterEnd(c *Task, st State, err error) {
	if c.state.Load()&flagSlow != 0 {
		// A callback that calls runtime.Goexit ends this goroutine here;
		// resumeDrain then runs the rest and Finished.
		finishSlow(c, true, true)
	}
	if b := c.owner.Load(); b != nil {
		b.Owner.Finished(c, st, err)
	}
}

// publish is PublishLocked then the callbacks, for a task with no owner
// or one that never ran: they run on the caller's goroutine, so inside
// the task that runs there, if one does (a task's Cancel of an unbound
// Lazy task, a Submit refused inside a task): see EnterCallbacksHere.
func publish(c *Task, st State, err error) {
	if PublishLocked(c, st, err) {
		defer EnterCallbacksHere()() // no id read: see EnterCallbacksHere
	}
	DrainCallbacks(c)
}
