package scheduler

import (
	"sync"
	"sync/atomic"
)

// goroutines counts the scheduler's goroutines (those running tasks, and
// those that run user code left over by a runtime.Goexit) so that Shutdown
// can wait for them (I7). It is a sync.WaitGroup that a waiter may ask to
// leave some goroutines out of: a goroutine of the scheduler's that calls
// Shutdown itself (a done callback, hook or error handler run after a
// task's end, I11) cannot wait for its own exit.
type goroutines struct {
	n       atomic.Int64 // live goroutines
	inside  atomic.Int64 // of them, blocked in Shutdown's wait
	waiters atomic.Int32
	mu      sync.Mutex
	cond    sync.Cond
}

// Add counts one more goroutine, before it starts.
func (g *goroutines) Add(n int) { g.n.Add(int64(n)) }

// Done uncounts a goroutine as it exits.
func (g *goroutines) Done() {
	g.n.Add(-1)
	if g.waiters.Load() > 0 {
		g.wake()
	}
}

func (g *goroutines) wake() {
	g.mu.Lock()
	if g.cond.L == nil {
		g.cond.L = &g.mu
	}
	g.cond.Broadcast()
	g.mu.Unlock()
}

// Wait waits until every goroutine counted has exited, except those that
// wait here from inside: own is how many counts the caller holds itself
// (ownCounts), 0 for a caller from outside.
func (g *goroutines) Wait(own int) {
	if own > 0 {
		g.inside.Add(int64(own))
		defer g.inside.Add(-int64(own))
		if g.waiters.Load() > 0 {
			g.wake() // the others' target moved
		}
	}
	g.mu.Lock()
	if g.cond.L == nil {
		g.cond.L = &g.mu
	}
	g.waiters.Add(1)
	for g.n.Load() > g.inside.Load() {
		g.cond.Wait()
	}
	g.waiters.Add(-1)
	g.mu.Unlock()
}
