package scheduler

import (
	"context"
	"log/slog"
	"testing"

	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/lazytask"
)

// hotHolds checks s.hot against what it promises: a lock is sure to come
// (a Release with the cap full, or a lingering goroutine).
func hotHolds(t *testing.T, s *Scheduler, when string) {
	t.Helper()
	s.lock()
	hot, running, spinning, full := s.hot.Load(), s.running, s.spinning, !s.root.lim.Fits(1)
	s.unlock()
	if hot && spinning == 0 && (running == 0 || !full) {
		t.Fatalf("%s: hot with %d running, %d lingering, cap full %v", when, running, spinning, full)
	}
}

// Submit skips the lock (the inbox) while the root cap is full and a task
// runs; Stats and every other locked call see the task queued.
func TestSubmitUsesTheInboxWhileTheCapIsFull(t *testing.T) {
	ctx := context.Background()
	s, err := New(WithLimit(1), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Shutdown(ctx) }()
	noop := func(context.Context) (int, error) { return 1, nil }
	if s.hot.Load() {
		t.Fatal("hot is true in a new scheduler")
	}
	hotHolds(t, s, "new")

	// The holder is the first task: no goroutine lingers that could link
	// the inbox before the checks below.
	started, release := make(chan struct{}), make(chan struct{})
	if _, err := Submit(s, func(context.Context) (int, error) { close(started); <-release; return 0, nil }); err != nil {
		t.Fatal(err)
	}
	<-started
	if !s.hot.Load() {
		t.Fatal("hot is false while the one slot is taken")
	}
	hotHolds(t, s, "cap full")
	h, err := Submit(s, noop)
	if err != nil {
		t.Fatal(err)
	}
	if !s.root.inbox.Pending() {
		t.Fatal("a submit behind a full cap did not go through the inbox")
	}
	if st := h.State(); st != lazytask.Queued {
		t.Fatalf("State() of a task in the inbox = %v; want Queued", st)
	}
	st := s.Stats()
	if s.root.inbox.Pending() {
		t.Fatal("Stats left the inbox pending")
	}
	if st.Queued != 1 || st.Submitted != 2 || st.Running != 1 {
		t.Fatalf("Stats() = %+v; want Queued 1, Submitted 2, Running 1", st)
	}
	close(release)
	if v, err := h.Await(ctx); v != 1 || err != nil {
		t.Fatalf("Await = %d, %v; want 1, nil", v, err)
	}
	if err := s.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	hotHolds(t, s, "idle again")
}

// A task that hooks can see is Queued before its push; operations on it
// wait for the push instead of touching queue links it does not have.
func TestLockForWaitsForTheSubmittersPush(t *testing.T) {
	s, err := New(WithLimit(1), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Shutdown(context.Background()) }()
	// Hold the one slot, so that whoever links the task cannot start it.
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	if _, err := Submit(s, func(context.Context) (int, error) { close(started); <-release; return 0, nil }); err != nil {
		t.Fatal(err)
	}
	<-started
	h := lazytask.New(func(context.Context) (int, error) { return 1, nil })
	c := core.Of(h)
	if !core.EnqueueInbox(c, &s.root.bind, false, false) {
		t.Fatal("EnqueueInbox refused a Lazy task")
	}
	done := make(chan bool)
	go func() { done <- h.Cancel(nil) }()
	// The Cancel cannot finish before the push: the task is in transit,
	// then Queued in no queue until the scope is listed and drained.
	s.root.inbox.Push(c)
	core.InboxPushed(c)
	s.root.list()
	if !<-done {
		t.Fatal("Cancel of a task in the inbox reported false")
	}
	if st := h.State(); st != lazytask.Canceled {
		t.Fatalf("State() = %v; want Canceled", st)
	}
	if st := s.Stats(); st.Queued != 0 || st.Canceled != 1 || st.Submitted != 2 {
		t.Fatalf("Stats() = %+v; want Queued 0, Canceled 1, Submitted 2", st)
	}
}

// A child scope's submits use its own inbox while the root cap is full; the
// next lock holder links them into the child's queue.
func TestChildScopeSubmitsUseTheirInbox(t *testing.T) {
	ctx := context.Background()
	s, err := New(WithLimit(1), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Shutdown(ctx) }()
	child, err := s.Root().NewScope(WithName("child"))
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	if _, err := Submit(s, func(context.Context) (int, error) { close(started); <-release; return 0, nil }); err != nil {
		t.Fatal(err)
	}
	<-started
	var hs []*lazytask.Task[int]
	for i := range 3 {
		h, err := Submit(child, func(context.Context) (int, error) { return i, nil })
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	if !child.inbox.Pending() || s.dirty.Load() != child || child.dirtyNext != nil {
		t.Fatalf("child inbox pending %v, listed %v (alone %v); want all", child.inbox.Pending(), s.dirty.Load() == child, child.dirtyNext == nil)
	}
	if st := s.Stats(); st.Queued != 3 || st.Submitted != 4 {
		t.Fatalf("Stats() = %+v; want Queued 3, Submitted 4", st)
	}
	if child.inbox.Pending() || s.dirty.Load() != nil {
		t.Fatal("Stats left the child's inbox pending or listed")
	}
	close(release)
	for i, h := range hs {
		if v, err := h.Await(ctx); v != i || err != nil {
			t.Fatalf("task %d: Await = %d, %v", i, v, err)
		}
	}
}
