package scheduler

import (
	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/lazytask"
)

// Hooks are lifecycle callbacks that tracing, metrics and monitors attach to
// a scope (WithHooks) without wrapping every task; child scopes inherit
// them, and several trackers may register their own Hooks. Nil fields are
// skipped. With no hook registered the scheduler does no hook work at all.
//
// Hooks run on the goroutine where the step happens: OnCreate and OnQueue on
// the submitter's, OnStart and OnDone on the goroutine that runs the task
// (OnDone after the result is published and the done callbacks have run;
// for a task canceled before it ran, on the canceler's). They must be quick
// and must not block. A panicking hook is recovered and logged with the
// scheduler's logger; the task is not affected.
type Hooks struct {
	// OnCreate: a task was made in the scope (Submit, NewTask), or a task
	// made elsewhere (lazytask.New) is handed to it (Enqueue).
	OnCreate func(sc *Scope, h lazytask.Handle)
	// OnQueue: a task is being handed to the scope's queue; it fires just
	// before the handoff, so that it always comes before OnStart. A
	// refused Enqueue leaves the task Lazy and fires nothing more.
	OnQueue func(sc *Scope, h lazytask.Handle)
	// OnStart: the task's function is about to run.
	OnStart func(sc *Scope, h lazytask.Handle)
	// OnDone: the task has ended; h.Info() gives its state, error and
	// timings.
	OnDone func(sc *Scope, h lazytask.Handle)
}

type hookKind uint8

const (
	hookCreate hookKind = iota
	hookQueue
	hookStart
	hookDone
	numHooks
)

type hookFunc = func(*Scope, lazytask.Handle)

// hookTable holds a scope's hooks by kind, so that firing one kind walks
// only the functions of that kind.
type hookTable [numHooks][]hookFunc

func (t *hookTable) add(h Hooks) {
	for k, f := range [numHooks]hookFunc{h.OnCreate, h.OnQueue, h.OnStart, h.OnDone} {
		if f != nil {
			t[k] = append(t[k], f)
		}
	}
}

func (t *hookTable) any() bool { return len(t[0])+len(t[1])+len(t[2])+len(t[3]) > 0 }

// fire calls the hooks of the given kinds, in registration order.
func (sc *Scope) fire(c *core.Task, kinds ...hookKind) {
	var h lazytask.Handle
	for k, i := 0, 0; k < len(kinds); {
		if len(sc.hooks[kinds[k]]) == 0 {
			k++
			continue
		}
		if h == nil {
			h = handleOf(c)
		}
		k, i = sc.runHooks(kinds, k, i, h)
	}
}

// runHooks calls the hooks of kinds[k:], starting at hook i of kinds[k],
// under one deferred recover, and returns len(kinds). If a hook panics it
// logs the panic and returns the position after that hook, so that one bad
// hook neither stops the others nor costs a defer per hook.
func (sc *Scope) runHooks(kinds []hookKind, k, i int, h lazytask.Handle) (nextK, nextI int) {
	defer func() {
		if r := recover(); r != nil {
			sc.s.logger().Error("lazysched: hook panicked", "scope", sc.name, "err", core.NewPanicError(r))
			nextK, nextI = k, i+1
		}
	}()
	for ; k < len(kinds); k, i = k+1, 0 {
		fs := sc.hooks[kinds[k]]
		for ; i < len(fs); i++ {
			fs[i](sc, h)
		}
	}
	return k, 0
}
