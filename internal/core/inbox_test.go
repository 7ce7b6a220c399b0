package core

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inboxTask returns a fresh task made Queued for an inbox.
func inboxTask(t *testing.T, b *Binding) *Task {
	t.Helper()
	c := &Task{}
	KeepTimings(c, nil)
	require.True(t, EnqueueInbox(c, b, true, false))
	return c
}

func takeAll(in *Inbox, seal bool) []*Task {
	var out []*Task
	in.Take(seal, func(c *Task) { out = append(out, c) })
	return out
}

// push is Push's ok.
func push(in *Inbox, c *Task) bool {
	ok, _ := in.Push(c)
	return ok
}

func TestInboxGivesTasksBackOldestFirstWithTheMarkCleared(t *testing.T) {
	var in Inbox
	b := &Binding{}
	assert.False(t, in.Pending(), "empty inbox Pending")
	var want []*Task
	for i := range 5 {
		c := inboxTask(t, b)
		_, _, inbox := InboxView(c)
		assert.True(t, inbox, "InboxView's inbox after EnqueueInbox")
		ok, first := in.Push(c)
		require.True(t, ok)
		assert.Equal(t, i == 0, first, "first for push %d", i)
		want = append(want, c)
	}
	assert.True(t, in.Pending(), "Pending with 5 tasks")
	got := takeAll(&in, false)
	assert.Equal(t, want, got, "Take order")
	for _, c := range got {
		_, _, inbox := InboxView(c)
		assert.False(t, inbox, "InboxView's inbox after Take")
		assert.Nil(t, c.next, "link after Take")
		assert.Equal(t, Queued, StateOf(c))
	}
	assert.False(t, in.Pending(), "Pending after Take")
	assert.Empty(t, takeAll(&in, false), "second Take")
	// The push after a Take that emptied it is first again (its owner
	// lists it once more).
	c := inboxTask(t, b)
	ok, first := in.Push(c)
	require.True(t, ok)
	assert.True(t, first, "first after a Take")
}

func TestSealedInboxRefusesPushesForGood(t *testing.T) {
	var in Inbox
	b := &Binding{}
	first := inboxTask(t, b)
	require.True(t, push(&in, first))
	assert.Equal(t, []*Task{first}, takeAll(&in, true), "Take that seals")
	assert.True(t, in.Sealed())
	assert.False(t, in.Pending(), "a sealed inbox is not pending")
	c := inboxTask(t, b)
	ok, isFirst := in.Push(c)
	assert.False(t, ok, "Push into a sealed inbox")
	assert.False(t, isFirst, "first from a sealed inbox")
	assert.Empty(t, takeAll(&in, false), "Take of a sealed inbox")
	assert.True(t, in.Sealed(), "a Take without seal leaves it sealed")

	UndoInbox(c, true)
	assert.Equal(t, Lazy, StateOf(c), "state after UndoInbox")
	assert.Nil(t, Bound(c), "owner after UndoInbox")
	assert.Zero(t, c.state.Load()&flagInbox, "mark after UndoInbox")
	_, queued, _, _ := Timings(c)
	assert.True(t, queued.IsZero(), "queued time after UndoInbox")
}

// Concurrent pushers and a taker: every task comes out once, and each
// pusher's tasks in its push order.
func TestInboxUnderConcurrentPushes(t *testing.T) {
	var in Inbox
	b := &Binding{}
	const pushers, each = 4, 2000
	owner := map[*Task][2]int{}
	tasks := make([][]*Task, pushers)
	for p := range pushers {
		for i := range each {
			c := inboxTask(t, b)
			tasks[p] = append(tasks[p], c)
			owner[c] = [2]int{p, i}
		}
	}
	var wg sync.WaitGroup
	for p := range pushers {
		wg.Go(func() {
			for _, c := range tasks[p] {
				in.Push(c)
			}
		})
	}
	var got []*Task
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		got = append(got, takeAll(&in, finished)...)
	}
	require.Len(t, got, pushers*each, "tasks taken")
	next := make([]int, pushers)
	for _, c := range got {
		o := owner[c]
		require.Equal(t, next[o[0]], o[1], "pusher %d's order", o[0])
		next[o[0]]++
	}
}

// A task others may see is claimed into transit: it looks Lazy, and only
// InboxPushed makes it Queued, so a failed push is undone unseen.
func TestClaimedTaskIsQueuedOnlyOncePushed(t *testing.T) {
	b := &Binding{}
	c := &Task{}
	KeepTimings(c, nil)
	require.True(t, EnqueueInbox(c, b, false, true))
	assert.Equal(t, Lazy, StateOf(c), "public state while claimed")
	_, queued, _, _ := Timings(c)
	assert.True(t, queued.IsZero(), "no queued time while claimed")
	assert.False(t, EnqueueInbox(c, b, false, false), "a claimed task cannot be claimed again")

	var in Inbox
	require.True(t, push(&in, c))
	InboxPushed(c)
	assert.Equal(t, Queued, StateOf(c), "after InboxPushed")
	_, queued, _, _ = Timings(c)
	assert.False(t, queued.IsZero(), "queued time once Queued")
	assert.Equal(t, []*Task{c}, takeAll(&in, false))

	d := &Task{}
	KeepTimings(d, nil)
	require.True(t, EnqueueInbox(d, b, false, false))
	d.state.Or(flagSlow) // someone asked for the Done channel meanwhile
	UndoInbox(d, false)
	assert.Equal(t, Lazy, StateOf(d), "after UndoInbox")
	assert.Nil(t, Bound(d))
	assert.NotZero(t, d.state.Load()&flagSlow, "flags others set survive the undo")
	assert.Zero(t, d.state.Load()&(flagInbox|flagHooked), "inbox marks cleared")
	assert.True(t, Hooking(d), "a task hooks saw is marked as handed over again: the locked path goes on")
}

// The owner that takes a claimed task from the inbox before its submitter
// has called InboxPushed makes it Queued itself (it does not wait, under
// its lock, for the submitter); the submitter's InboxPushed then leaves
// the task in whatever state the owner has moved it to since.
func TestTheOwnerEndsATransitThatItsSubmitterHasNotEndedYet(t *testing.T) {
	b := &Binding{}
	c := &Task{}
	require.True(t, EnqueueInbox(c, b, false, true))
	var in Inbox
	require.True(t, push(&in, c))
	c.state.Or(flagSlow) // a flag set meanwhile survives the move
	taken := takeAll(&in, false)
	require.Equal(t, []*Task{c}, taken)
	assert.Equal(t, Lazy, StateOf(c), "taken, still in transit")
	Pushed(c)
	assert.Equal(t, Queued, StateOf(c), "after Pushed")
	assert.NotZero(t, c.state.Load()&flagSlow, "flags survive Pushed")
	assert.NotZero(t, c.state.Load()&flagHooked, "the hooked mark survives Pushed")
	require.True(t, Admit(c, false, 0), "a task Pushed made Queued is admitted")
	InboxPushed(c) // the submitter, late
	assert.Equal(t, Running, StateOf(c), "a late InboxPushed leaves an admitted task Running")
	Pushed(c)
	assert.Equal(t, Running, StateOf(c), "Pushed of a task no longer in transit changes nothing")
}

// A task whose push failed (UndoInbox marks it as being handed over again)
// and that is canceled before its submitter's retry is no longer being
// handed over: an Enqueue of it is told its state, not ErrHandingOver.
func TestATaskCanceledAfterAnUndoneInboxPushIsNotHooking(t *testing.T) {
	c := &Task{}
	require.True(t, BeginHooks(c))
	require.True(t, EnqueueInbox(c, &Binding{}, false, false))
	UndoInbox(c, false)
	require.True(t, Hooking(c), "Hooking after UndoInbox: the handoff goes on")
	require.True(t, Cancel(c, nil))
	assert.Equal(t, Canceled, StateOf(c))
	assert.False(t, Hooking(c), "Hooking once Canceled")
}
