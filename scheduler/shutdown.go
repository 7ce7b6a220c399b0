package scheduler

import (
	"context"

	"github.com/lazysched/lazysched/internal/core"
)

// Wait waits until nothing is queued or running, or until ctx ends (then it
// returns context.Cause(ctx)). It does not stop submissions: a task
// submitted meanwhile is waited for too.
func (s *Scheduler) Wait(ctx context.Context) error {
	s.mu.Lock()
	if s.running == 0 && s.q.Len() == 0 {
		s.mu.Unlock()
		return nil
	}
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Shutdown stops admission (later submissions return ErrClosed), lets queued
// and running tasks finish until ctx ends (the grace period), then cancels
// what remains, with ErrClosed as the cause: queued tasks end Canceled
// without running, running ones see their context canceled. It then waits
// for the running tasks to return and for every goroutine of the scheduler
// to exit, so nothing outlives it. A task that ignores its context keeps
// Shutdown waiting.
//
// Shutdown returns nil if everything finished within the grace period, and
// context.Cause(ctx) if the grace period ended first. A second call cancels
// at once, waits as above, and returns ErrClosed.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.escalated = true
		s.mu.Unlock()
		s.cancelAll(ErrClosed)
		_ = s.Wait(context.Background())
		s.wg.Wait()
		return ErrClosed
	}
	s.closed = true
	if s.room != nil {
		close(s.room)
		s.room = nil
	}
	s.mu.Unlock()
	var err error
	if werr := s.Wait(ctx); werr != nil {
		err = werr
		s.cancelAll(ErrClosed)
		_ = s.Wait(context.Background())
	}
	s.wg.Wait()
	s.root.cancel(ErrClosed)
	return err
}

// cancelAll cancels every queued task and the root context.
func (s *Scheduler) cancelAll(cause error) {
	s.mu.Lock()
	var dropped []*core.Task
	for {
		c := s.q.Peek()
		if c == nil {
			break
		}
		s.q.Remove(c)
		if core.CancelQueued(c) {
			s.stats.canceled++
			dropped = append(dropped, c)
		}
	}
	s.roomLocked()
	s.mu.Unlock()
	s.root.cancel(cause)
	for _, c := range dropped {
		core.PublishCanceled(c, cause)
	}
}
