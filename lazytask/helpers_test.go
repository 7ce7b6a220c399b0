package lazytask_test

import (
	"context"
	"errors"
)

var errBoom = errors.New("boom")

// isClosed reports whether ch is closed, without blocking.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// gate is a task body that signals when it has started and then waits to
// be released; it returns the value and error it is released with.
type gate struct {
	started chan struct{}
	release chan result
}

type result struct {
	v   int
	err error
}

func newGate() *gate {
	return &gate{started: make(chan struct{}), release: make(chan result, 1)}
}

func (g *gate) fn(ctx context.Context) (int, error) {
	close(g.started)
	r := <-g.release
	return r.v, r.err
}

func (g *gate) finish(v int, err error) { g.release <- result{v, err} }

// bg is context.Background, short.
var bg = context.Background()
