// Package errgroup is a drop-in for golang.org/x/sync/errgroup (v0.24.0)
// built on lazysched: switching is one import line, and the semantics are
// errgroup's, exactly, but for what a function's goroutine carries (its
// OS thread lock, its pprof labels: see "Where it is not errgroup's"
// below). A Group runs functions and waits for them; the zero
// value works; Wait returns the first error, unwrapped; WithContext cancels
// a context on the first error; SetLimit bounds the active functions, Go
// blocks at the limit and TryGo does not; a limit of zero blocks every Go,
// a negative one means no limit; SetLimit panics while functions are
// active.
//
// Like x/sync's, a Group does not recover panics: a panic in a function
// crashes the program with its own stack, as a panic in a goroutine does.
// The errgroup authors' reasons hold (quoting errgroup.go): propagating a
// panic to Wait "delays panics arbitrarily, making bugs harder to detect;
// turns f's panic stack into a mere value, hiding it from crash-monitoring
// tools; risks deadlocks that hide the panic entirely". If something above
// the function recovers the panic all the same (the pool of a scheduler
// made with factory/pondexec, which recovers by default), the group fails
// with a *lazytask.PanicError, its task ends Failed, and Wait returns that
// error: never a hang. A function that calls runtime.Goexit ends without
// an error, as in x/sync.
//
// Where it is not errgroup's: x/sync's Go starts a goroutine for each
// function, which ends with it; here a function runs on one of the
// scheduler's goroutines, which goes on to run other functions and tasks.
// So a function that returns with its OS thread still locked
// (runtime.LockOSThread with no UnlockOSThread, the idiom that has a
// thread whose state was changed, by setns say, terminated with its
// goroutine) leaves that goroutine locked to the changed thread, and the
// functions and tasks that goroutine runs next run there: unlock the
// thread before returning, or lock it on a goroutine of the function's
// own, which it waits for. And a new goroutine inherits the pprof labels
// of the one that starts it (pprof.Do around a Go): x/sync's functions are
// profiled under their caller's labels, these under none (or, with
// scheduler.WithPprofLabels on the scope of In, their task's); to label a
// function's work, call pprof.Do inside the function.
//
// What lazysched adds: every function runs as a lazytask task of a
// scheduler. A Group made with In runs them in a child scope of a scope of
// yours: they take that scope's slots (the group shares its cap, nested in
// its ancestors'), its hooks see them, and canceling the scope cancels the
// group's context. Called from inside a task of a scheduler, Go (when it
// blocks at the limit) and Wait lend the task's slot while they wait, as
// lazytask's Await does, so that a task that fans out on its own cap cannot
// deadlock it. That holds for groups nested in the functions of a group
// made with In, given that group's context (the only one its functions
// have): their waits lend the slot of a function of the outer group. The
// other waits a function of an In group makes with the group's context
// (lazytask's Await, the factory combinators, a scope's Wait) lend that
// function's own slot. A wait made on a goroutine that a function started
// (to wait for a group while the function waits for the goroutine), or
// that a goroutine it started started, and so on (that far only in a
// program of at most 10,000 goroutines: finding such an ancestor reads the
// traces of all), lends the slot of that function, as a wait made with a
// task's context on a goroutine of the task's lends the task's: the goroutine counts as part of the function,
// which may run code of its own meanwhile. The walk up the ancestors stops
// at a goroutine that runs tasks (a scheduler's, an executor's): such a
// goroutine was started by whatever admitted its first task. Made from a
// goroutine with no such ancestor (one started by the runtime, as a
// time.AfterFunc callback is), a wait lends as it would with the context
// In was given; made from one whose ancestry is lost past a goroutine that
// has exited, a group's wait lends the slot of one of the outer group's
// running functions, and a wait with a group's context the slot of one of
// that group's (or else an outer group's) running functions, which may be
// busy: over the cap rather than a hang.
// Goroutines are told by their ids: a goroutine that outlives the function
// that started it, and waits once the scheduler's goroutine that ran that
// function runs another, lends the other's slot. One wait lends nothing:
// a Go that blocks at the limit from inside
// one of the group's own functions keeps that function's slot (x/sync
// gives the function no context that names its task), so with In, a
// scope's cap at or below the group's limit and Go called from inside
// functions, Go can wait for a function that waits for a slot; keep the
// limit below the cap.
package errgroup

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/lazysched/lazysched/factory/internal/glue"
	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/internal/goid"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A Group is a collection of goroutines working on subtasks that are part
// of the same overall task. A Group should not be reused for different
// tasks.
//
// A zero Group is valid, has no limit on the number of active goroutines,
// and does not cancel on error; its functions run on a scheduler of its
// own, made at the first Go, with no cap and no panic recovery. A Group
// must not be copied after first use.
type Group struct {
	cancel func(error)

	wg sync.WaitGroup

	// lim is the limit of SetLimit (limit.go); nil: none.
	lim *tokens
	// active counts the functions from Go or TryGo to their end, limit or
	// none, so that SetLimit refuses to change the limit under them even
	// when none was set: a function that took no token must not give one
	// back to a limit set while it ran.
	active atomic.Int64

	errOnce sync.Once
	err     error

	// lend is the context given to WithContext or In: if it belongs to a
	// running task, that task's slot is lent while Go or Wait blocks.
	lend context.Context
	// parent is the scope of In; nil: the group's own scheduler.
	parent *scheduler.Scope
	// values is lazytask.WithValues(lend), made once by In for its tasks.
	values lazytask.Option
	// unwatch ends In's watch of the parent scope's context.
	unwatch func() bool
	// watched is what that watch cancels, held by the group alone: the
	// watch holds it weakly, so that a group dropped without a Wait is not
	// kept (with its context and what that holds) by a long-lived scope.
	watched *watched
	// room is the context with which In's Go waits for room in a bounded
	// queue (scheduler.WithQueueLimit): lend's values, never done, and a
	// wait lender that lends the slot of the function that calls Go, or
	// else lend's task's (lendRoom).
	room context.Context

	own atomic.Pointer[scheduler.Scheduler] // the group's scheduler, made on first use
	mu  sync.Mutex
	sc  *scheduler.Scope // In: the scope of the current round, up to Wait

	// outer is the group of In whose context In was given: this group's
	// waits are made from inside one of outer's functions.
	outer *Group
	// all and gos watch the group's tasks, for In called from inside a
	// task (lend is its context), so that the end that ends a wait of that
	// task hands it its slot back ahead of the queue (core.Gate): for Wait
	// the last end (all is held while functions are active), for a Go
	// blocked at the limit the end that hands it its token (gos is held
	// while such a Go has none; limit.go).
	all, gos *core.Gate
	// waits counts the Wait calls blocked now: a Go that blocks meanwhile
	// comes from another goroutine, most likely a function of the group.
	waits atomic.Int32
	calls map[*call]struct{} // In: the functions running now, under mu
}

// watched is the cancel of an In group's context, as its watch of the
// scope's context sees it (weakly).
type watched struct{ cancel func(error) }

// groupKey is the context key under which In's context holds its group.
type groupKey struct{}

// WithContext returns a new Group and an associated Context derived from
// ctx.
//
// The derived Context is canceled the first time a function passed to Go
// returns a non-nil error or the first time Wait returns, whichever occurs
// first.
func WithContext(ctx context.Context) (*Group, context.Context) {
	ctx2, cancel := context.WithCancelCause(ctx)
	return &Group{cancel: cancel, lend: ctx}, ctx2
}

// In is WithContext for a Group whose functions run as tasks in a child
// scope of sp (a *scheduler.Scheduler's root scope, or a *scheduler.Scope):
// they share sp's cap, and sp's hooks see them. The child scope is made at
// the first Go and closed by Wait once the functions have returned; the
// next Go after a Wait opens a new one. It does not recover panics and
// keeps its errors for Wait, whatever sp's policy.
//
// The derived Context is also canceled, with sp's cause, if sp's context
// is (sp canceled or shut down). If sp takes no more tasks (it was closed or
// canceled), Go counts the refusal as the error of a function that could
// not run, and Wait returns it. A full queue (scheduler.WithQueueLimit) is
// no refusal: Go waits for room, lending a slot meanwhile as it does at the
// limit, and TryGo reports false, as at the limit. TryGo also reports false,
// and keeps no error, when sp refuses the function. A nil sp, or a nil
// *scheduler.Scheduler or *scheduler.Scope in it, makes In the same as
// WithContext; a zero Scheduler or Scope (not made by scheduler.New or
// NewScope) makes In panic, as its methods do.
func In(ctx context.Context, sp scheduler.Spawner) (*Group, context.Context) {
	g, gctx := WithContext(ctx)
	sc := glue.Scope(sp)
	if sc == nil {
		return g, gctx
	}
	g.parent = sc
	g.values = lazytask.WithValues(ctx)
	g.room = core.WithWaitLender(context.WithoutCancel(ctx), g.lendRoom)
	g.outer, _ = ctx.Value(groupKey{}).(*Group)
	if g.outer != nil && !core.HasWaitLender(ctx) {
		// A task's context that carries an outer group's values (a task
		// a combinator made from a function's context, say): this group
		// is that task's, whose slot its waits lend, not one of the outer
		// group's functions' (lending one of theirs left the task's slot
		// held while it waited: random nested fan-out hung).
		g.outer = nil
	}
	if g.outer == nil {
		g.all, g.gos = core.NewPatientGate(ctx), core.NewPatientGate(ctx)
	}
	gctx = context.WithValue(gctx, groupKey{}, g)
	// A wait that a function makes with gctx (an Await, a combinator, a
	// scope's Wait) lends a function's slot, as a nested group's does.
	gctx = core.WithWaitLender(gctx, g.lendCaller)
	// The watch holds the group's cancel weakly: a group dropped before
	// its Wait (an early return before any Go, which costs x/sync nothing)
	// must not be kept by sp's context until sp ends, with its context and
	// everything in ctx. The group, held by its context and by its running
	// functions, holds it; once the group is unreachable the watch goes.
	g.watched = &watched{cancel: g.cancel}
	wp := weak.Make(g.watched)
	sctx := sc.Context()
	g.unwatch = context.AfterFunc(sctx, func() {
		if w := wp.Value(); w != nil {
			w.cancel(context.Cause(sctx))
		}
	})
	runtime.AddCleanup(g, func(stop func() bool) { stop() }, g.unwatch)
	return g, gctx
}

// block runs wait, a call that blocks, lending a slot meanwhile (I9). A
// group nested in a function of an outer In group (made with the outer
// group's context, the only one its functions have) lends the slot of the
// In group function that the calling goroutine runs (the outer group's, or
// an inner group's whose function made this group with the outer's
// context), or, called from a goroutine that runs none, of the function
// that its nearest ancestor runs (callerCall); other groups, and waits on
// goroutines with no such ancestor, lend the slot of the task whose
// context they were given. (Lending any
// running function's slot for a wait made in another function left the
// waiting one's slot held, and in random nested fan-out a few trees in 450
// hung with every task waiting; lending it for a wait made on a goroutine
// a function started let another function's code run beside a busy one,
// over the cap.)
func (g *Group) block(gate *core.Gate, wait func()) {
	if g.outer != nil {
		c, broken := callerCall()
		reclaim := core.LendFor(c.taskOf()) // nil: lent already, by an outer wait, or none
		if c == nil && broken {
			// Its ancestry is lost past a goroutine that has exited: lend
			// one of the outer group's running functions' slots, as
			// waiting with none lent could hang the function that waits
			// for this goroutine. It may be busy: over the cap, rather
			// than a hang.
			reclaim = g.outer.lendAnyCall()
		}
		if reclaim != nil {
			defer reclaim(false) // the wait ends when what it waits for does
			wait()
			return
		}
	}
	glue.BlockOn(g.lend, gate, wait)
}

// blockGo waits, for a Go blocked at the limit, until an end hands it a
// token, lending the slot of the task whose context the group was given
// meanwhile, on the gate gos. While Wait blocks that slot is lent already:
// such a Go comes from another goroutine, and nothing more is lent. If it
// is one of the group's functions, at a cap its slot stays taken while it
// blocks: x/sync gives a function no context that would name its task, and
// lending another function's slot would let a task run over the cap
// uncounted (that pattern, Go at the limit from a function while Wait
// blocks, needs a cap above the group's limit).
func (g *Group) blockGo() {
	// While Wait blocks, the task of lend has lent its slot already, and
	// a Go that blocks comes from another goroutine (a function of the
	// group, most likely): it lends nothing, and waits on no gate.
	var gate *core.Gate
	if g.waits.Load() == 0 {
		gate = g.gos
	}
	ch := g.lim.wait(gate)
	if ch == nil {
		return // a token came free meanwhile
	}
	g.block(gate, func() { <-ch })
}

// running holds, by goroutine id, the function of an In group that each
// goroutine runs now (*call): a wait made on that goroutine lends that
// function's slot, whichever group's context or Wait it is made with (a
// function of an inner group may wait with the outer group's context, or
// on a group made with it).
var running sync.Map

// callerCall returns the In group function that the calling goroutine
// runs or, if it runs none, that the nearest of its live ancestors runs:
// the goroutine that started it (a function that starts a goroutine to
// wait for a group, and waits for that goroutine), or that one's creator,
// and so on (maxAncestry at most), up to the first that runs tasks (a
// scheduler's or an executor's goroutine carries the ancestry of whatever
// code started it, not of its tasks); nil if none runs one. broken says
// that the walk met an ancestor that has exited, past which it cannot see.
// The creator is read from the goroutine's own trace; the ancestors beyond
// it from the traces of all goroutines (goid.Creators), only when the
// creator runs no function, once per goroutine, and not in a program of
// over maxWalkedFor goroutines.
func callerCall() (c *call, broken bool) {
	me := goid.ID()
	if c, ok := running.Load(me); ok {
		return c.(*call), false
	}
	id := goid.Creator()
	if id == 0 {
		return nil, false
	}
	if c, ok := running.Load(id); ok {
		return c.(*call), false
	}
	ch := ancestry.of(me, id)
	for _, a := range ch.ids {
		if c, ok := running.Load(a); ok {
			return c.(*call), false
		}
	}
	return nil, ch.broken
}

// runsTasks is in the trace of every goroutine that runs a task.
const runsTasks = "github.com/lazysched/lazysched/internal/core.Execute"

// Bounds of callerCall's walk up a goroutine's ancestors: how far up, and
// how many goroutines the program may have for the traces of all to be
// read (that stops the world for a moment that grows with them).
const (
	maxAncestry  = 16
	maxWalkedFor = 10_000
	maxChains    = 4096
)

// ancestry keeps, by goroutine id, the ancestors beyond its creator that a
// walk found: a goroutine's are fixed, so each goroutine that waits from
// below a function's goroutines reads all the traces once. It holds
// maxChains at most; when full, the chains of goroutines that have exited
// go, then all.
var ancestry chains

type chains struct {
	mu sync.Mutex
	by map[uint64]chain
}

// chain is a goroutine's ancestors beyond its creator, nearest first;
// broken: the walk ended at one that had exited.
type chain struct {
	ids    []uint64
	broken bool
}

// of returns the chain of goroutine id, whose creator is creator; none if
// the program has over maxWalkedFor goroutines.
func (a *chains) of(id, creator uint64) chain {
	a.mu.Lock()
	ch, ok := a.by[id]
	a.mu.Unlock()
	if ok {
		return ch
	}
	if runtime.NumGoroutine() > maxWalkedFor {
		return chain{}
	}
	m := goid.Creators(runsTasks)
	if m == nil {
		return chain{}
	}
	if _, live := m[creator]; !live {
		ch.broken = true // the creator itself has exited
	}
	for c := m[creator]; c != 0 && len(ch.ids) < maxAncestry; c = m[c] {
		if _, live := m[c]; !live {
			ch.broken = true
			break
		}
		ch.ids = append(ch.ids, c)
	}
	a.mu.Lock()
	if len(a.by) >= maxChains {
		for k := range a.by {
			if _, live := m[k]; !live {
				delete(a.by, k)
			}
		}
	}
	if a.by == nil || len(a.by) >= maxChains {
		a.by = make(map[uint64]chain)
	}
	a.by[id] = ch
	a.mu.Unlock()
	return ch
}

// taskOf returns the task running c's function; nil for a nil c.
func (c *call) taskOf() *core.Task {
	if c == nil {
		return nil
	}
	return c.task
}

// lendCaller lends the slot of the In group function that the calling
// goroutine runs, of any group, or that its nearest live ancestor runs
// (callerCall); nil if none runs one (a wait made with a group's context
// from elsewhere lends as before, the slot of the task that context came
// from) or if that slot is lent already. It is the wait lender of g's
// context. If the walk up the ancestors broke at one that has exited, it
// lends one of g's running functions' slots, or else of an outer group's,
// as block does: a function may be waiting for this goroutine, and
// lending nothing could hang it; the slot may be busy, over the cap rather
// than a hang.
func (g *Group) lendCaller() func(cut bool) {
	c, broken := callerCall()
	if c == nil && broken {
		return g.lendAnyCall()
	}
	return core.LendFor(c.taskOf())
}

// lendRoom lends a slot while In's Go waits for room in a bounded queue:
// that of the In group function the calling goroutine runs (lendCaller),
// none if that one is lent already, or else, for a Go made outside the
// functions, as a wait with In's context would (the task it came from).
func (g *Group) lendRoom() func(cut bool) {
	if reclaim := g.lendCaller(); reclaim != nil {
		return reclaim
	}
	if c, _ := callerCall(); c != nil {
		return nil
	}
	if reclaim := core.BeginWait(context.WithoutCancel(g.lend)); reclaim != nil {
		return func(bool) { reclaim(false) } // a wait with no end of its own
	}
	return nil
}

// lendAnyCall is lendACall of g, or else of its outer groups, nearest
// first: for a wait whose ancestry is lost.
func (g *Group) lendAnyCall() func(cut bool) {
	for o := g; o != nil; o = o.outer {
		if reclaim := o.lendACall(); reclaim != nil {
			return reclaim
		}
	}
	return nil
}

// lendACall lends the slot of one of g's running functions whose slot is
// not lent already; nil if there is none.
func (g *Group) lendACall() func(cut bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for c := range g.calls {
		if reclaim := core.LendFor(c.task); reclaim != nil {
			return reclaim
		}
	}
	return nil
}

func (g *Group) done() {
	if g.lim != nil {
		g.lim.put()
	}
	g.active.Add(-1)
	g.all.Hold(-1) // before the Done that can end Wait, so the last end gives the slot back
	g.wg.Done()
}

// Wait blocks until all function calls from the Go method have returned,
// then returns the first non-nil error (if any) from them.
func (g *Group) Wait() error {
	g.waits.Add(1)
	g.block(g.all, g.wg.Wait)
	g.waits.Add(-1)
	if g.cancel != nil {
		g.cancel(g.err)
	}
	if g.parent != nil {
		g.closeRound()
	} else {
		g.closeOwn()
	}
	return g.err
}

// closeOwn shuts the group's own scheduler down once its functions have
// returned, so that none of its goroutines outlives Wait (x/sync's leave
// none: a parked one would be a leak to goleak, and in a testing/synctest
// bubble, where time stops once the test's function returns, it would never
// be dismissed); the next Go makes another. The functions have returned,
// so this waits only for the ends of their tasks.
func (g *Group) closeOwn() {
	if s := g.own.Swap(nil); s != nil {
		_ = s.Shutdown(context.Background())
	}
}

// Go calls the given function in a new goroutine.
//
// The first call to Go must happen before a Wait.
// It blocks until the new goroutine can be added without the number of
// goroutines in the group exceeding the configured limit.
//
// The first goroutine in the group that returns a non-nil error will
// cancel the associated Context, if any. The error will be returned
// by Wait.
func (g *Group) Go(f func() error) {
	if g.lim != nil && !g.lim.take() {
		g.blockGo()
	}

	g.active.Add(1)
	g.all.Hold(1)
	g.wg.Add(1)
	g.start(f, false)
}

// TryGo calls the given function in a new goroutine only if the number of
// active goroutines in the group is currently below the configured limit.
//
// The return value reports whether the goroutine was started.
func (g *Group) TryGo(f func() error) bool {
	if g.lim != nil && !g.lim.take() {
		return false
	}

	g.active.Add(1)
	g.all.Hold(1)
	g.wg.Add(1)
	return g.start(f, true)
}

// SetLimit limits the number of active goroutines in this group to at most n.
// A negative value indicates no limit.
// A limit of zero will prevent any new goroutines from being added.
//
// Any subsequent call to the Go method will block until it can add an active
// goroutine without exceeding the configured limit.
//
// The limit must not be modified while any goroutines in the group are active.
func (g *Group) SetLimit(n int) {
	if n < 0 {
		g.lim = nil
		return
	}
	// x/sync checks the tokens alone, so with no limit before it lets the
	// limit change under active functions, whose ends then receive tokens
	// never sent (its Wait hangs); here they would give back tokens never
	// taken (the count goes below 0 and the limit lets more in): refuse it
	// as x/sync refuses a change under a limit.
	active := int(g.active.Load())
	if g.lim != nil {
		active = max(active, g.lim.active()) // a token handed to a Go not yet counted
	}
	if active != 0 {
		panic(fmt.Errorf("errgroup: modify limit while %v goroutines in the group are still active", active))
	}
	g.lim = &tokens{max: n}
}

// fail records the first error and cancels the group's context with it.
func (g *Group) fail(err error) {
	g.errOnce.Do(func() {
		g.err = err
		if g.cancel != nil {
			g.cancel(g.err)
		}
	})
}

// start runs f as a task. The function's return, however it comes (an
// error, runtime.Goexit, a panic on its way to crash the program), releases
// the limit's token and the wait, as x/sync's deferred done does. In a scope
// of the user's a task may also end without running (the scope canceled or
// closed first): its end releases them then. try is TryGo's: a function
// refused, or that finds a bounded queue full, is not started, start
// keeps no error and reports false; Go waits for room instead, and counts
// a refusal as the function's error.
func (g *Group) start(f func() error, try bool) bool {
	sp, err := g.spawner()
	if err != nil {
		return g.notStarted(err, try)
	}
	if g.parent == nil {
		// The group's own scheduler never cancels or refuses a task: every
		// function runs.
		run := func(context.Context) (struct{}, error) {
			defer g.done()
			return struct{}{}, g.call(f)
		}
		for {
			if _, err := scheduler.Submit(sp, run); err == nil {
				return true
			}
			// A Wait shut this scheduler down meanwhile (a Go racing the
			// end of a round): the next Go's scheduler takes it.
			if sp, err = g.spawner(); err != nil {
				return g.notStarted(err, try)
			}
		}
	}
	c := &call{g: g, f: f}
	// The task carries the values of In's context (its trace span, say), so
	// that the scope's hooks see them: a tracer's span of the task is then a
	// child of the caller's. Its values alone: the group's cancellation is
	// the scope's.
	// x/sync's Go never fails: at a full bounded queue it waits for room
	// (a cancel or close of the scope ends that wait with a refusal, which
	// ended counts), lending a slot meanwhile (lendRoom). With an unbounded
	// queue SubmitWait is Submit.
	var t *lazytask.Task[struct{}]
	if try {
		// TryGo never blocks: at a full queue, as at the limit, or when sp
		// takes no more tasks, f is not started (a caller that runs f
		// itself when TryGo reports false must not be told it started).
		if t, err = scheduler.Submit(sp, c.run, g.values); err != nil {
			return g.notStarted(err, true)
		}
	} else {
		t, _ = scheduler.SubmitWait(g.room, sp, c.run, g.values)
	}
	t.OnDone(c.ended)
	g.all.Watch(core.Of(t))
	g.gos.Watch(core.Of(t))
	return true
}

// notStarted gives back what Go or TryGo took for a function that will
// not run because of err: TryGo's (try) reports false and keeps no error;
// Go's counts err as the function's and reports true.
func (g *Group) notStarted(err error, try bool) bool {
	if !try {
		g.fail(err)
	}
	g.done()
	return !try
}

// call runs f and records its error.
func (g *Group) call(f func() error) error {
	err := f()
	if err != nil {
		g.fail(err)
	}
	return err
}

// spawner returns where the group's tasks run, making it on first use.
func (g *Group) spawner() (scheduler.Spawner, error) {
	if s := g.own.Load(); s != nil {
		return s, nil // the common case: no lock once the scheduler exists
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.parent != nil {
		if g.sc == nil {
			sc, err := g.parent.NewScope(scheduler.WithName("errgroup"), scheduler.WithoutPanicRecovery(), scheduler.Supervise(ignore))
			if err != nil {
				return nil, err
			}
			g.sc = sc
		}
		return g.sc, nil
	}
	if s := g.own.Load(); s != nil {
		return s, nil
	}
	s, err := scheduler.New(scheduler.Unlimited(), scheduler.WithoutPanicRecovery(), scheduler.Supervise(ignore))
	if err != nil {
		return nil, err
	}
	g.own.Store(s)
	return s, nil
}

// closeRound closes the child scope of In once its functions have
// returned, so that a long-lived parent does not keep one scope per Group;
// the next Go opens another.
func (g *Group) closeRound() {
	g.mu.Lock()
	sc := g.sc
	g.sc = nil
	g.mu.Unlock()
	if sc != nil {
		_ = sc.Shutdown(context.Background())
	}
	if g.unwatch != nil {
		g.unwatch()
	}
}

// ignore is the policy of the group's scopes: errors go to Wait, not to a
// log.
func ignore(lazytask.Info, error) {}

// call is one function of a group made with In, run as a task.
type call struct {
	g    *Group
	f    func() error
	ran  bool
	task *core.Task // the task running f, while it runs
	gid  uint64     // the goroutine running f, while it runs
}

func (c *call) run(ctx context.Context) (struct{}, error) {
	c.ran = true
	defer c.g.done()
	g := c.g
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[*call]struct{})
	}
	c.task = core.FromContext(ctx)
	if g.parent != nil {
		c.gid = goid.ID() // for lendCaller: In's context lends through it
		running.Store(c.gid, c)
	}
	g.calls[c] = struct{}{}
	g.mu.Unlock()
	defer func() {
		if c.gid != 0 {
			running.CompareAndDelete(c.gid, c)
		}
		g.mu.Lock()
		delete(g.calls, c)
		g.mu.Unlock()
		// A panic goes on to crash the program; if something above the
		// task recovers it (an executor such as a pond pool), the group
		// still fails with it instead of returning as if f had.
		if r := recover(); r != nil {
			g.fail(core.NewPanicError(r))
			panic(r)
		}
	}()
	return struct{}{}, g.call(c.f)
}

// ended runs once the task has ended. A task that never ran (its scope was
// canceled or closed first) counts as a function that returned the cause.
func (c *call) ended(_ struct{}, err error) {
	if c.ran {
		return
	}
	if err != nil {
		c.g.fail(err)
	}
	c.g.done()
}
