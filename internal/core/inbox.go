package core

import (
	"sync/atomic"
)

// flagInbox marks a Queued task that waits in its owner's Inbox: it is not
// linked into a queue yet. The owner clears it under its lock when it links
// the task (Inbox.Take), so under that lock a Queued task without the mark
// is in a queue.
const flagInbox = 1 << 9

// Inbox is a lock-free stack of Queued tasks that submitters push without
// taking their owner's lock; the owner moves them into its queue, oldest
// first, whenever it holds the lock. It links tasks through the queue links,
// which a task in the inbox does not use. Once sealed it refuses every push
// for good. The zero value is an empty, open inbox.
type Inbox struct {
	head atomic.Pointer[Task]
}

// sealedInbox is the head of a sealed inbox.
var sealedInbox = new(Task)

// EnqueueInbox prepares a Lazy task for Inbox.Push, owned by b and marked
// as being in an inbox; hooked asks for Owner.Starting. Then the caller
// pushes it and calls InboxPushed (or UndoInbox if the push failed); the
// owner, taking it from the inbox, calls Pushed.
//
// fresh is EnqueueFresh's promise that nobody else can see the task: plain
// stores, and the task is Queued at once (it is seen only once pushed).
// Otherwise the task is claimed with one compare-and-swap into the transit
// state toQueued, in which other goroutines treat it as Lazy and wait
// before moving it, and stays there until InboxPushed or Pushed: so a push that fails
// is undone before anyone could have seen the task Queued. EnqueueInbox
// reports false if the task was no longer Lazy (a hook canceled or started
// it). Its queued time is its creation: EnqueueInbox is for tasks that a
// submit has just made, which are queued in the same call.
func EnqueueInbox(c *Task, b *Binding, fresh, hooked bool) bool {
	flags := uint32(flagInbox)
	if hooked {
		flags |= flagHooked
	}
	if fresh {
		enqueueFresh(c, b, Queued, flags)
		return true
	}
	for {
		s := c.state.Load()
		if State(s&stateMask) != Lazy {
			return false
		}
		// One compare-and-swap both claims the task and sets the marks;
		// flags others add meanwhile (flagSlow) survive the later moves.
		if c.state.CompareAndSwap(s, s&^(stateMask|flagHooking)|flags|uint32(toQueued)) {
			break
		}
	}
	if t := tm(c); t != nil {
		t.queued = t.created
	}
	c.owner.Store(b)
	return true
}

// InboxPushed ends EnqueueInbox once the push has succeeded: a claimed
// task becomes Queued, unless the owner has taken it from the inbox and
// made it Queued already (Pushed).
func InboxPushed(c *Task) { endTransit(c) }

// Pushed is InboxPushed for the owner, under its lock, for a task it has
// just taken from an inbox: the task is in the inbox, so its push has
// succeeded and can no longer be undone, and the owner makes it Queued
// itself rather than wait for its submitter to (a submitter descheduled
// between its push and InboxPushed would hold the owner's lock up, and
// every goroutine that waits for it, for a time slice).
func Pushed(c *Task) { endTransit(c) }

// endTransit moves a claimed task from toQueued to Queued, once: whichever
// of the submitter and the owner comes second finds it moved (and perhaps
// admitted, or ended, by then) and leaves it as it is.
func endTransit(c *Task) {
	for {
		s := c.state.Load()
		if State(s&stateMask) != toQueued {
			return
		}
		if c.state.CompareAndSwap(s, s&^stateMask|uint32(Queued)) {
			return
		}
	}
}

// UndoInbox takes back EnqueueInbox when Push failed: the task is Lazy,
// unbound and without a queued time again. Nobody has seen it Queued: a
// fresh task is seen by nobody, a claimed one is still in transit. A task
// that hooks saw (not fresh) is marked again as being handed over
// (BeginHooks): the handoff goes on by the locked path.
func UndoInbox(c *Task, fresh bool) {
	c.owner.Store(nil)
	if t := tm(c); t != nil {
		t.queued = 0
	}
	for {
		s := c.state.Load() // flags such as flagSlow may be set meanwhile
		n := s&^(stateMask|flagInbox|flagHooked) | uint32(Lazy)
		if !fresh {
			n |= flagHooking
		}
		if c.state.CompareAndSwap(s, n) {
			return
		}
	}
}

// Push adds a task prepared by EnqueueInbox. It reports false, leaving the
// task out, if the inbox is sealed; else first tells whether the inbox was
// empty (the owner lists it to be drained then: each Take that empties it
// is followed by exactly one such push).
func (in *Inbox) Push(c *Task) (ok, first bool) {
	for {
		h := in.head.Load()
		if h == sealedInbox {
			return false, false
		}
		c.setLink(h)
		if in.head.CompareAndSwap(h, c) {
			return true, h == nil
		}
	}
}

// Pending reports whether tasks wait in the inbox.
func (in *Inbox) Pending() bool {
	h := in.head.Load()
	return h != nil && h != sealedInbox
}

// Sealed reports whether the inbox refuses pushes.
func (in *Inbox) Sealed() bool { return in.head.Load() == sealedInbox }

// Take empties the inbox (and seals it if seal is true) and calls link for
// each task it held, oldest first, with the inbox mark cleared and the task
// unlinked. The owner calls it under its lock.
func (in *Inbox) Take(seal bool, link func(*Task)) {
	var h *Task
	for {
		h = in.head.Load()
		if h == sealedInbox {
			return
		}
		to := (*Task)(nil)
		if seal {
			to = sealedInbox
		}
		if h == nil && !seal {
			return
		}
		if in.head.CompareAndSwap(h, to) {
			break
		}
	}
	// The stack holds the newest first: reverse it.
	var old *Task
	for h != nil {
		next := h.link()
		h.setLink(old)
		old, h = h, next
	}
	for old != nil {
		c := old
		old = c.link()
		c.next = nil
		c.state.And(^uint32(flagInbox))
		link(c)
	}
}
