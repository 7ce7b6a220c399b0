package bench

import (
	"context"
	"fmt"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// lazyRunner is lazysched on its normal path: scheduler.Submit returns a
// typed handle per task, the submitter keeps every handle and awaits each
// one, then the scheduler is shut down.
type lazyRunner struct {
	label string                      // the name, if not "lazysched"
	opts  []scheduler.SchedulerOption // added to the scheduler's (BenchmarkHooks)
}

func (r lazyRunner) name() string {
	if r.label != "" {
		return r.label
	}
	return "lazysched"
}

// newScheduler returns a scheduler of cap limit with r's options.
func (r lazyRunner) newScheduler(limit int) *scheduler.Scheduler {
	s, err := scheduler.New(append([]scheduler.SchedulerOption{scheduler.WithLimit(limit)}, r.opts...)...)
	must(err)
	return s
}

// lazyFunc adapts task to the function a lazytask runs.
func lazyFunc(task func()) func(context.Context) (struct{}, error) {
	return func(context.Context) (struct{}, error) {
		task()
		return struct{}{}, nil
	}
}

func (r lazyRunner) run(n, limit, subs int, task func()) {
	s := r.newScheduler(limit)
	fn := lazyFunc(task)
	split(n, subs, func(k int) {
		hs := make([]*lazytask.Task[struct{}], k)
		for i := range hs {
			h, err := scheduler.Submit(s, fn)
			must(err)
			hs[i] = h
		}
		ctx := context.Background()
		for _, h := range hs {
			_, err := h.Await(ctx)
			must(err)
		}
	})
	must(s.Shutdown(context.Background()))
}

func (r lazyRunner) backlog(n int, gate <-chan struct{}, task func()) backlog {
	s := r.newScheduler(1)
	holdSlot(gate, func(h func()) {
		_, err := scheduler.Submit(s, lazyFunc(h))
		must(err)
	})
	return &lazyBacklog{s: s, fn: lazyFunc(task), hs: make([]*lazytask.Task[struct{}], 0, n)}
}

type lazyBacklog struct {
	s  *scheduler.Scheduler
	fn func(context.Context) (struct{}, error)
	hs []*lazytask.Task[struct{}]
}

func (b *lazyBacklog) add() {
	h, err := scheduler.Submit(b.s, b.fn)
	must(err)
	b.hs = append(b.hs, h)
}

// link moves the tasks still in the scheduler's submit inbox into its
// queue: Stats takes the lock, and every lock holder links the inbox.
func (b *lazyBacklog) link() {
	if st := b.s.Stats(); st.Queued != len(b.hs) {
		panic(fmt.Sprintf("lazysched backlog: %d queued after %d submits", st.Queued, len(b.hs)))
	}
}

func (b *lazyBacklog) drain() {
	ctx := context.Background()
	for _, h := range b.hs {
		_, err := h.Await(ctx)
		must(err)
	}
	must(b.s.Shutdown(ctx))
}
