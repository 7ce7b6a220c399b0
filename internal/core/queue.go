package core

import (
	"cmp"
	"math"
	"slices"
	"unsafe"
)

// Queue is an intrusive priority queue of tasks: highest priority first,
// FIFO within a priority, with a lane of promoted tasks ahead of all of
// them. Push, Remove and Promote are O(1) for a priority already present
// (O(log p) for a new one among p distinct priorities); Peek is O(1)
// amortised. It is not safe for concurrent use: its owner's lock guards it,
// together with the queue links of the tasks in it. The zero value is an
// empty queue.
type Queue struct {
	promoted list
	// one is the bucket of the queue's priority while it has one (more
	// is nil or its heap empty), which is most queues: then the queue is
	// a line of its owner's and its queueing touches no other object.
	one  bucket
	n    int
	more *buckets // made when a second priority comes, kept after
}

// buckets are a queue's buckets while it holds more than one priority.
type buckets struct {
	heap   []*bucket // max-heap by priority, one's among them or not; may hold empty buckets
	byPrio map[int32]*bucket
	last   *bucket // the bucket of the last Push, a cache for the common case
}

type bucket struct {
	prio int32
	idx  int32 // index in the heap, -1 once removed
	list list
}

// list is circular with a sentinel, so a task unlinks itself without
// knowing which list it is in. The sentinel is a bare node, 16 bytes, not a
// Task (64): a scope holds three lists and a bucket per priority, and with
// 10,000 scopes each line a task's queueing touches is a cache miss.
type list struct{ s node }

// node is a task's queue links (Task's first field) or a list's sentinel.
type node struct{ next, prev *node }

// taskOf is the task whose links n is; n must not be a sentinel.
func taskOf(n *node) *Task { return (*Task)(unsafe.Pointer(n)) }

// link is the next task on c's inbox stack (inbox.go), or nil.
func (c *Task) link() *Task {
	if c.next == nil {
		return nil
	}
	return taskOf(c.next)
}

// setLink makes d (or nil) the next task on c's inbox stack.
func (c *Task) setLink(d *Task) {
	if d == nil {
		c.next = nil
	} else {
		c.next = &d.node
	}
}

// List is a plain intrusive FIFO list of tasks (a scope's running or lazy
// tasks). A task is in at most one List or Queue at a time. The zero value
// is an empty list; it is not safe for concurrent use.
type List struct {
	l list
	n int
}

// PushBack appends c.
func (l *List) PushBack(c *Task) { l.l.pushBack(c); l.n++ }

// Remove takes c out of l; c must be in l.
func (l *List) Remove(c *Task) { unlink(c); l.n-- }

// Len is the number of tasks in l.
func (l *List) Len() int { return l.n }

// Each calls f for every task in l, in order; f must not change l.
func (l *List) Each(f func(*Task)) { l.l.each(f) }

func (l *list) each(f func(*Task)) {
	if l.empty() {
		return
	}
	for n := l.s.next; n != &l.s; n = n.next {
		f(taskOf(n))
	}
}

func (l *list) init() {
	if l.s.next == nil {
		l.s.next, l.s.prev = &l.s, &l.s
	}
}

func (l *list) empty() bool { return l.s.next == nil || l.s.next == &l.s }

func (l *list) pushBack(c *Task) {
	l.init()
	n := &c.node
	n.prev, n.next = l.s.prev, &l.s
	l.s.prev.next = n
	l.s.prev = n
}

// moveTo moves l's tasks to d, an empty list, and leaves l empty.
func (l *list) moveTo(d *list) {
	if l.empty() {
		return
	}
	d.s = l.s
	d.s.next.prev = &d.s
	d.s.prev.next = &d.s
	l.s = node{}
}

func (l *list) front() *Task {
	if l.empty() {
		return nil
	}
	return taskOf(l.s.next)
}

func unlink(c *Task) {
	n := &c.node
	n.prev.next = n.next
	n.next.prev = n.prev
	n.next, n.prev = nil, nil
}

// Len is the number of tasks in the queue.
func (q *Queue) Len() int { return q.n }

// Linked reports whether c is in a queue.
func Linked(c *Task) bool { return c.next != nil }

// Push appends c behind every queued task of its priority.
func (q *Queue) Push(c *Task) {
	if !q.multi() {
		if q.one.list.empty() {
			q.one.prio = c.prio // the one bucket is any priority's while empty
		}
		if q.one.prio == c.prio {
			q.one.list.pushBack(c)
			q.n++
			return
		}
		q.split()
	}
	m := q.more
	b := m.last
	if b == nil || b.prio != c.prio || b.idx < 0 {
		b = q.bucketFor(c.prio)
		m.last = b
	}
	b.list.pushBack(c)
	q.n++
}

// multi reports whether the queue's buckets are in more's heap.
func (q *Queue) multi() bool { return q.more != nil && len(q.more.heap) > 0 }

// split puts the one bucket into a heap, for a second priority to join.
func (q *Queue) split() {
	if q.more == nil {
		q.more = &buckets{byPrio: make(map[int32]*bucket, 2)}
	}
	m := q.more
	q.one.idx = 0
	m.heap = append(m.heap[:0], &q.one)
	m.byPrio[q.one.prio] = &q.one
	m.last = &q.one
}

// Remove takes c out of the queue.
func (q *Queue) Remove(c *Task) {
	unlink(c)
	q.n--
	q.trim()
}

// Promote moves c to the head of the queue, behind tasks promoted earlier.
func (q *Queue) Promote(c *Task) {
	unlink(c)
	q.promoted.pushBack(c)
	q.trim()
}

// trim drops the heap's empty buckets once they are most of it. Peek drops
// an empty bucket only when it comes to the top; one emptied below a
// priority that always has a task (left by aging, a cancel, a promote)
// would stay for ever, one per priority the queue ever held, and PeekAged
// looks at every bucket. With more buckets than 2n+2 for n tasks, at least
// n+2 are empty: dropping them all is O(p), paid for by the removals that
// emptied them.
func (q *Queue) trim() {
	if q.more == nil || len(q.more.heap) <= 2*q.n+2 {
		return
	}
	m := q.more
	kept := m.heap[:0]
	for _, b := range m.heap {
		if !b.list.empty() {
			kept = append(kept, b)
			continue
		}
		b.idx = -1
		delete(m.byPrio, b.prio)
		if m.last == b {
			m.last = nil
		}
	}
	clear(m.heap[len(kept):])
	m.heap = kept
	for i, b := range kept {
		b.idx = int32(i)
	}
	for i := len(kept)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
	if len(kept) <= 1 {
		q.collapse()
	}
}

// Peek returns the task that is next in line, or nil.
func (q *Queue) Peek() *Task {
	if c := q.promoted.front(); c != nil {
		return c
	}
	for q.multi() {
		if c := q.more.heap[0].list.front(); c != nil {
			return c
		}
		q.popBucket()
	}
	// One priority: its bucket stays, empty or not, for the next Push (a
	// queue that empties and fills again allocates nothing).
	return q.one.list.front()
}

// PeekAged is Peek with aging: a task gains one level of priority for
// every step ns it has waited, so the next in line is the one with the
// greatest prio*step - queued (ties: earlier queued), an order that does not
// change as time passes. Promoted tasks still come first.
func (q *Queue) PeekAged(step int64) *Task {
	if c := q.promoted.front(); c != nil {
		return c
	}
	var best *Task
	for i := 0; q.multi() && i < len(q.more.heap); {
		b := q.more.heap[i]
		c := b.list.front()
		if c == nil && i == 0 {
			q.popBucket() // as in Peek
			continue
		}
		i++
		if c != nil && (best == nil || AgedBefore(c, best, step)) {
			best = c
		}
	}
	if !q.multi() {
		return q.one.list.front()
	}
	return best
}

// AgedBefore reports whether a is ahead of b with aging of step ns: its
// prio*step - queued is the greater, or the same and it was queued first.
func AgedBefore(a, b *Task, step int64) bool {
	d := int64(a.prio) - int64(b.prio)
	if d != 0 && (d > math.MaxInt64/step || -d > math.MaxInt64/step) {
		return d > 0 // a priority gap no wait in int64 ns can close
	}
	if x, y := d*step, a.order-b.order; x != y {
		return x > y
	}
	return a.order < b.order
}

// EffectivePriority is the priority PeekAged gives c at now.
func EffectivePriority(c *Task, now, step int64) int64 {
	if step <= 0 {
		return int64(c.prio)
	}
	return int64(c.prio) + (now-c.order)/step
}

// Pop removes and returns the task that is next in line, or nil.
func (q *Queue) Pop() *Task {
	c := q.Peek()
	if c != nil {
		q.Remove(c)
	}
	return c
}

// Each calls f for every queued task in admission order: promoted ones
// first, then by priority, FIFO within a priority. f must not change the
// queue. It is O(n + p log p); it is meant for snapshots and shutdown.
func (q *Queue) Each(f func(*Task)) {
	q.promoted.each(f)
	if !q.multi() {
		q.one.list.each(f)
		return
	}
	bs := slices.Clone(q.more.heap)
	slices.SortFunc(bs, func(a, b *bucket) int { return cmp.Compare(b.prio, a.prio) })
	for _, b := range bs {
		b.list.each(f)
	}
}

// EachAged is Each in PeekAged's order for an aging step of step ns:
// promoted tasks first, then by prio*step - queued (ties: earlier queued),
// the order in which PeekAged admits them. f must not change the queue.
func (q *Queue) EachAged(step int64, f func(*Task)) {
	if step <= 0 {
		q.Each(f)
		return
	}
	q.promoted.each(f)
	var ts []*Task
	if !q.multi() {
		q.one.list.each(func(c *Task) { ts = append(ts, c) })
	} else {
		for _, b := range q.more.heap {
			b.list.each(func(c *Task) { ts = append(ts, c) })
		}
	}
	slices.SortStableFunc(ts, func(a, b *Task) int {
		switch {
		case AgedBefore(a, b, step):
			return -1
		case AgedBefore(b, a, step):
			return 1
		}
		return 0
	})
	for _, c := range ts {
		f(c)
	}
}

// bucketFor returns the bucket of priority p in the heap, made if need be:
// the one bucket if it is out of the heap (so empty), else a new one.
func (q *Queue) bucketFor(p int32) *bucket {
	m := q.more
	if b, ok := m.byPrio[p]; ok {
		return b
	}
	b := &q.one
	if b.idx >= 0 {
		b = new(bucket)
	}
	*b = bucket{prio: p, idx: int32(len(m.heap))}
	b.list.init()
	m.byPrio[p] = b
	m.heap = append(m.heap, b)
	q.up(int(b.idx))
	return b
}

// popBucket drops the heap's top, an empty bucket. When one bucket is
// left, it becomes the one bucket (its tasks moved there if it is another)
// and the heap is emptied.
func (q *Queue) popBucket() {
	m := q.more
	b := m.heap[0]
	last := len(m.heap) - 1
	q.swap(0, last)
	m.heap[last] = nil
	m.heap = m.heap[:last]
	if last > 0 {
		q.down(0)
	}
	b.idx = -1
	delete(m.byPrio, b.prio)
	if m.last == b {
		m.last = nil
	}
	if len(m.heap) == 1 {
		q.collapse()
	}
}

// collapse goes back to the one bucket when the heap holds at most one:
// its tasks move there.
func (q *Queue) collapse() {
	m := q.more
	if len(m.heap) == 0 {
		q.one.idx = 0
		clear(m.byPrio)
		m.last = nil
		return
	}
	r := m.heap[0]
	if r != &q.one {
		q.one.prio = r.prio
		r.list.moveTo(&q.one.list) // one is out of the heap, so empty
		r.idx = -1
	}
	q.one.idx = 0
	m.heap[0] = nil
	m.heap = m.heap[:0]
	clear(m.byPrio)
	m.last = nil
}

func (q *Queue) swap(i, j int) {
	h := q.more.heap
	h[i], h[j] = h[j], h[i]
	h[i].idx = int32(i)
	h[j].idx = int32(j)
}

func (q *Queue) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if q.more.heap[p].prio >= q.more.heap[i].prio {
			return
		}
		q.swap(i, p)
		i = p
	}
}

func (q *Queue) down(i int) {
	h := q.more.heap
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].prio > h[l].prio {
			m = r
		}
		if h[i].prio >= h[m].prio {
			return
		}
		q.swap(i, m)
		i = m
	}
}
