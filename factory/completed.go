package factory

import (
	"context"
	"iter"

	"github.com/lazysched/lazysched/factory/internal/glue"
	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/lazytask"
)

// Completed yields the given tasks in the order they end, each argument
// once (a handle given twice is yielded twice): tasks that have ended
// already come first. Nil handles are skipped. It is AsCompleted for handles the
// caller already holds (tasks submitted anywhere, with any options), and it
// leaves them alone: it starts none (a Lazy task is yielded once something
// else starts or cancels it) and cancels none, not even when the loop
// breaks. If ctx ends, the sequence stops. Called from inside a task of a
// scheduler, the calling task lends its slot while it waits, as Await does.
func Completed[T any](ctx context.Context, tasks ...*lazytask.Task[T]) iter.Seq[*lazytask.Task[T]] {
	return func(yield func(*lazytask.Task[T]) bool) {
		// Each distinct task's callback sends the index of its first
		// place once; the buffer takes them all, so callbacks never block,
		// even after the loop has stopped. A handle given twice gets one
		// callback, and the loop yields it twice: with two, the loop, woken
		// by the first, could begin a wait before the second had sent, and
		// lend its slot to a queued task for a wait that was about to end.
		ended := make(chan int, len(tasks))
		times := make([]int, len(tasks)) // at a first place: how many places
		var seen map[*lazytask.Task[T]]int
		if len(tasks) > 1 {
			seen = make(map[*lazytask.Task[T]]int, len(tasks))
		}
		g := core.NewGate(ctx)
		// The callbacks of the tasks that have not ended when the loop
		// stops are taken back, so that a task that outlives the loop (a
		// long-lived worker waited for in every round of a loop) keeps
		// nothing of it.
		cbs := make([]func(), len(tasks))
		defer func() {
			for i, f := range cbs {
				if f != nil {
					g.ForgetOnDone(core.Of(tasks[i]), f)
				}
			}
		}()
		left := 0
		for i, t := range tasks {
			if t == nil {
				continue
			}
			if j, ok := seen[t]; ok {
				times[j]++
				continue
			}
			if seen != nil {
				seen[t] = i
			}
			times[i] = 1
			left++
			// g watches t only where this callback is its first: a
			// callback of the caller's before it could wait for the other
			// tasks, and the slot given back would hold them up.
			cbs[i] = func() { ended <- i }
			g.OnDone(core.Of(t), cbs[i])
		}
		for ; left > 0; left-- {
			i, err := glue.RecvOn(ctx, g, ended, left == 1)
			if err != nil {
				return
			}
			for range times[i] {
				if !yield(tasks[i]) {
					return
				}
			}
		}
	}
}
