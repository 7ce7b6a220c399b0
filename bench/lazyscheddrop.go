package bench

import (
	"context"
	"fmt"

	"github.com/lazysched/lazysched/scheduler"
)

// lazyDropRunner is lazysched used like pond's Go: Submit still returns a
// handle per task, but the submitter drops it and waits for the whole
// scheduler with Scheduler.Wait. It shows what keeping a million handles
// alive costs (their memory and the garbage collector's scans of it).
type lazyDropRunner struct{}

func (lazyDropRunner) name() string { return "lazysched-drop" }

func (lazyDropRunner) run(n, limit, subs int, task func()) {
	s, err := scheduler.New(scheduler.WithLimit(limit))
	must(err)
	fn := lazyFunc(task)
	split(n, subs, func(k int) {
		for range k {
			_, err := scheduler.Submit(s, fn)
			must(err)
		}
	})
	ctx := context.Background()
	must(s.Wait(ctx))
	must(s.Shutdown(ctx))
}

// backlog: the pending tasks' handles are dropped, as in run; drain waits
// for the scheduler.
func (lazyDropRunner) backlog(n int, gate <-chan struct{}, task func()) backlog {
	s := lazyRunner{}.newScheduler(1)
	holdSlot(gate, func(h func()) {
		_, err := scheduler.Submit(s, lazyFunc(h))
		must(err)
	})
	return &lazyDropBacklog{s: s, fn: lazyFunc(task)}
}

type lazyDropBacklog struct {
	s  *scheduler.Scheduler
	fn func(context.Context) (struct{}, error)
	n  int
}

func (b *lazyDropBacklog) add() {
	_, err := scheduler.Submit(b.s, b.fn)
	must(err)
	b.n++
}

// link: see lazyBacklog.link.
func (b *lazyDropBacklog) link() {
	if st := b.s.Stats(); st.Queued != b.n {
		panic(fmt.Sprintf("lazysched-drop backlog: %d queued after %d submits", st.Queued, b.n))
	}
}

func (b *lazyDropBacklog) drain() {
	ctx := context.Background()
	must(b.s.Wait(ctx))
	must(b.s.Shutdown(ctx))
}
