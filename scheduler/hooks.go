package scheduler

import (
	"context"
	"runtime/pprof"

	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/internal/goid"
	"github.com/lazysched/lazysched/lazytask"
)

// Hooks are lifecycle callbacks that tracing, metrics and monitors attach to
// a scope (WithHooks) without wrapping every task; child scopes inherit
// them, and several trackers may register their own Hooks. Nil fields are
// skipped. With no hook registered the scheduler does no hook work at all.
//
// Every hook gets the task's context first: the one its function gets
// (with the values of its scope and of the context it carries, see
// lazytask.WithContext), so a tracer finds the parent span there. OnStart
// may return the context the function is to run with, derived from the one
// it got (a tracer starts the task's span there); OnDone then gets that
// context, so it can end the span.
//
// Hooks run on the goroutine where the step happens: OnCreate and OnQueue on
// the submitter's, OnStart on the goroutine that runs the task, OnDone
// after the result is published, the slot freed and the done callbacks run
// (for a task canceled before it ran, on the canceler's goroutine). When a
// task's done hooks are all that follows its end and a queued task takes
// its slot, its goroutine goes on with that task at once and OnDone runs
// on a goroutine of the scheduler's that runs the done hooks of such tasks
// in the order they ended; otherwise OnDone runs on the goroutine that ran
// the task, and the next task starts on another. Either way no hook delays
// a task (I11), and Scheduler.Shutdown, called from outside the tasks,
// waits for every OnDone. A scope's Shutdown and Wait do not: they return
// once the subtree's tasks have ended, when the OnDone hooks of the last
// of them may still be running or waiting on the done hooks' goroutine
// (a tracker's counts can lag them by those tasks). The Timings of
// h.Info() tell when each step happened, whenever the hook runs.
//
// OnCreate and OnQueue see a task before its handoff: a hook may cancel
// it or force-run it with the Scope it is given (sc.Force(h): the task
// then runs in that scope; Scheduler.Force would run it in the root, as
// for any unbound task), but its Start returns
// lazytask.ErrHandingOver and an Enqueue of it ErrNotQueued (wrapping that
// error): the handoff under way is the scheduler's.
//
// Hooks should be quick. One that blocks holds up the other tasks' hooks
// behind it for one to two milliseconds only: then they go on on another
// goroutine. The later hooks of its own task (its OnStart or OnDone after
// a blocking OnQueue, say) wait for it to return. A hook that panics is
// recovered and logged with the scheduler's logger, and one that calls
// runtime.Goexit ends only its goroutine: the other hooks, and the task,
// go on on another (I11).
type Hooks struct {
	// OnCreate: a task was made in the scope (Submit, NewTask), or a task
	// made elsewhere (lazytask.New) is handed to it (Enqueue).
	OnCreate func(ctx context.Context, sc *Scope, h lazytask.Handle)
	// OnQueue: a task is being handed to the scope's queue; it fires just
	// before the handoff, so that it always comes before OnStart. The
	// handoff may still be refused (a full queue, a weight above the cap,
	// a scope closed meanwhile): a refused Submit then ends the task, and
	// OnDone sees it with Info().Rejected; a refused Enqueue leaves the
	// task Lazy and fires nothing more.
	OnQueue func(ctx context.Context, sc *Scope, h lazytask.Handle)
	// OnStart: the task's function is about to run with ctx. The context
	// it returns (nil: ctx) is the one the function runs with, and the
	// next OnStart hook gets; it must derive from ctx.
	OnStart func(ctx context.Context, sc *Scope, h lazytask.Handle) context.Context
	// OnDone: the task has ended; h.Info() gives its state, error and
	// timings.
	OnDone func(ctx context.Context, sc *Scope, h lazytask.Handle)
	// Timings makes the tasks these hooks see keep their timings (the
	// Timings of h.Info(): a tracer's queue time, a histogram's run time),
	// as WithTimings does for a whole scheduler. Hooks that read no
	// timings leave it false: timings cost up to four clock reads and an
	// allocation per task.
	Timings bool
}

type hookKind uint8

const (
	hookCreate hookKind = iota
	hookQueue
	hookStart
	hookDone
	numHooks
)

// hookFunc is every hook seen as OnStart's kind; the others return nil.
type hookFunc = func(context.Context, *Scope, lazytask.Handle) context.Context

// hookTable holds a scope's hooks by kind, so that firing one kind walks
// only the functions of that kind.
type hookTable [numHooks][]hookFunc

func (t *hookTable) add(h Hooks) {
	for k, f := range [numHooks]func(context.Context, *Scope, lazytask.Handle){h.OnCreate, h.OnQueue, nil, h.OnDone} {
		if f != nil {
			t[k] = append(t[k], func(ctx context.Context, sc *Scope, h lazytask.Handle) context.Context {
				f(ctx, sc, h)
				return nil
			})
		}
	}
	if h.OnStart != nil {
		t[hookStart] = append(t[hookStart], h.OnStart)
	}
}

func (t *hookTable) any() bool { return len(t[0])+len(t[1])+len(t[2])+len(t[3]) > 0 }

// fire calls the hooks of the given kinds, in registration order, with the
// task's context (for done hooks, the one its function ran with).
func (sc *Scope) fire(c *core.Task, kinds ...hookKind) {
	r := hookRun{sc: sc, c: c}
	for _, k := range kinds {
		if len(sc.hooks[k]) > 0 {
			r.kinds[r.n] = k
			r.n++
		}
	}
	if r.n > 0 {
		if r.kinds[0] == hookDone {
			r.ctx = core.RunContext(c)
		} else {
			r.ctx = core.TaskContext(c)
		}
		r.run()
	}
}

// fireStart fires the start hooks of a task about to run. If a hook calls
// runtime.Goexit, the remaining hooks and then the task run on a goroutine
// of the scheduler's.
func (sc *Scope) fireStart(c *core.Task, ctx context.Context) context.Context {
	if sc.s.cfg.pprofLabels {
		ctx = pprof.WithLabels(ctx, pprof.Labels("lazysched.task", handleOf(c).Name(), "lazysched.scope", sc.name))
		pprof.SetGoroutineLabels(ctx)
	}
	r := hookRun{sc: sc, c: c, start: true, ctx: ctx}
	r.kinds[0], r.n = hookStart, 1
	r.run()
	return r.ctx
}

// hookRun is a cursor over the hooks to call for one step of a task: it
// moves past each hook before calling it, so that a hook that panics or
// calls runtime.Goexit is called once and the others still are.
type hookRun struct {
	sc    *Scope
	c     *core.Task
	h     lazytask.Handle
	kinds [2]hookKind
	n     int  // kinds used
	k, i  int  // next: hook i of kinds[k]
	start bool // the task runs after the hooks (fireStart)
	ctx   context.Context
}

func (r *hookRun) run() {
	for !r.step() {
	}
}

// step calls the remaining hooks under one deferred recover; it reports
// false after a hook panicked, so that run goes on with the next one.
func (r *hookRun) step() (done bool) {
	normal := false
	defer func() {
		if normal {
			return
		}
		// What is left, for another goroutine if this one exits: after
		// a hook's runtime.Goexit, or a logger's.
		rest := *r
		elsewhere := func() {
			rest.run()
			if rest.start {
				w := core.NewWorker(goid.ID())
				defer w.Exit()
				w.Runs(rest.c)
				rest.sc.s.loop(w, core.ExecuteStarted(rest.c, rest.ctx), nil)
			}
		}
		p := recover()
		if p != nil {
			r.sc.s.logErrorThen(elsewhere, "lazysched: hook panicked", "scope", r.sc.name, "err", core.NewPanicError(p))
			return
		}
		// runtime.Goexit: this goroutine exits as asked; the rest goes on
		// on another.
		r.sc.s.goTracked(elsewhere)
		r.sc.s.logError("lazysched: hook called runtime.Goexit", "scope", r.sc.name, "err", core.ErrCallbackGoexit)
	}()
	for r.k < r.n {
		fs := r.sc.hooks[r.kinds[r.k]]
		if r.i >= len(fs) {
			r.k, r.i = r.k+1, 0
			continue
		}
		f := fs[r.i]
		r.i++
		if r.h == nil {
			r.h = handleOf(r.c)
		}
		if ctx := f(r.ctx, r.sc, r.h); ctx != nil && r.start {
			r.ctx = ctx
		}
	}
	normal = true
	return true
}
