package core

import "sync/atomic"

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

// EnqueueInbox moves a Lazy task to Queued, owned by b and marked as being
// in an inbox, ready for Inbox.Push. fresh is EnqueueFresh's promise that
// nobody else can see the task (plain stores); otherwise it takes the
// compare-and-swap and reports false if the task was no longer Lazy (a hook
// canceled or started it). hooked asks for Owner.Starting.
func EnqueueInbox(c *Task, b *Binding, fresh, hooked bool) bool {
	flags := uint32(flagInbox)
	if hooked {
		flags |= flagHooked
	}
	if fresh {
		c.queued = c.created
		c.owner.Store(b)
		c.state.Store(uint32(Queued) | flags)
		return true
	}
	for {
		s := c.state.Load()
		if State(s&stateMask) != Lazy {
			return false
		}
		// One compare-and-swap both claims the task (toQueued) and sets the
		// marks; flags others add meanwhile (flagSlow) survive setState.
		if c.state.CompareAndSwap(s, s&^stateMask|flags|uint32(toQueued)) {
			break
		}
	}
	c.queued = c.created
	c.owner.Store(b)
	setState(c, Queued)
	return true
}

// UndoInbox takes back EnqueueInbox when Push failed: the task is Lazy,
// unbound and without a queued time again. It passes through toQueued, in
// which readers treat it as Lazy (Timings skips the queued time) and other
// movers wait, while the fields are reset.
func UndoInbox(c *Task) {
	setState(c, toQueued)
	c.owner.Store(nil)
	c.queued = 0
	for {
		s := c.state.Load() // flags such as flagSlow may be set meanwhile
		if c.state.CompareAndSwap(s, s&^(stateMask|flagInbox|flagHooked)|uint32(Lazy)) {
			return
		}
	}
}

// InInbox reports whether a Queued task still waits in an inbox. Under its
// owner's lock, after Take, it is true only for a task whose submitter has
// not pushed it yet (or pushed it after the Take): the caller retries.
func InInbox(c *Task) bool { return c.state.Load()&flagInbox != 0 }

// Push adds a task prepared by EnqueueInbox. It reports false, leaving the
// task out, if the inbox is sealed.
func (in *Inbox) Push(c *Task) bool {
	for {
		h := in.head.Load()
		if h == sealedInbox {
			return false
		}
		c.next = h
		if in.head.CompareAndSwap(h, c) {
			return true
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
		next := h.next
		h.next = old
		old, h = h, next
	}
	for old != nil {
		c := old
		old = c.next
		c.next = nil
		c.state.And(^uint32(flagInbox))
		link(c)
	}
}
