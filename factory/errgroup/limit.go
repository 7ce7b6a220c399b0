package errgroup

import (
	"sync"

	"github.com/lazysched/lazysched/internal/core"
)

// tokens is a group's limit on active functions (SetLimit): a count of
// the tokens held, and the Go calls blocked at the limit, served in the
// order they came. An end hands its token straight to the oldest blocked
// Go (put), before the task that ended gives its slot back: so that
// task's Release knows the wait it ends, and a Go of the task whose
// context the group was given, which lent that task's slot while it
// blocked (I9), gets the slot back there, ahead of the queue (core.Gate).
// With a channel as the semaphore another Go could take the freed token
// first, and the slot given back would be held by a Go still blocked.
type tokens struct {
	mu      sync.Mutex
	max     int
	held    int          // tokens held: by active functions, and handed to blocked Go calls
	waiters []*tokenWait // blocked Go calls, oldest first
}

// tokenWait is a Go blocked at the limit; ch is closed once it holds a
// token. gate, if not nil, is held while it waits (Gate.Hold): its end is
// not one that a watched task's end ends, until the token is handed.
type tokenWait struct {
	ch   chan struct{}
	gate *core.Gate
}

// take takes a token if one is free and no Go waits for one.
func (l *tokens) take() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.takeLocked()
}

func (l *tokens) takeLocked() bool {
	if l.held < l.max && len(l.waiters) == 0 {
		l.held++
		return true
	}
	return false
}

// wait is take for a Go that blocks: it returns nil if it took a token,
// else the channel closed once one is handed to it. gate, if not nil, is
// held until then.
func (l *tokens) wait(gate *core.Gate) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.takeLocked() {
		return nil
	}
	w := &tokenWait{ch: make(chan struct{}), gate: gate}
	gate.Hold(1)
	l.waiters = append(l.waiters, w)
	return w.ch
}

// put gives back the token of a function that returned: to the oldest
// blocked Go, if any (its gate is let go first), else to the pool.
func (l *tokens) put() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.waiters) == 0 {
		l.held--
		return
	}
	w := l.waiters[0]
	l.waiters[0] = nil
	l.waiters = l.waiters[1:]
	w.gate.Hold(-1)
	close(w.ch)
}

// active is the number of tokens held.
func (l *tokens) active() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}
