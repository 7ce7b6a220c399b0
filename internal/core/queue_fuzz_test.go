package core

import (
	"cmp"
	"slices"
	"testing"
)

// queueModel is the plain model of Queue: a slice of the queued tasks with
// the order keys the documentation gives: promoted tasks first in promote
// order, then highest priority, FIFO within a priority.
type queueModel struct {
	items []modelItem
	seq   int
}

type modelItem struct {
	c        *Task
	promoted int // promote sequence number; 0 if never promoted
	pushed   int // push sequence number
}

func (m *queueModel) push(c *Task) {
	m.seq++
	m.items = append(m.items, modelItem{c: c, pushed: m.seq})
}

func (m *queueModel) promote(i int) {
	m.seq++
	m.items[i].promoted = m.seq
}

func (m *queueModel) remove(i int) *Task {
	c := m.items[i].c
	m.items = slices.Delete(m.items, i, i+1)
	return c
}

// order returns the queued tasks in admission order.
func (m *queueModel) order() []*Task {
	s := slices.Clone(m.items)
	slices.SortFunc(s, func(a, b modelItem) int {
		switch {
		case a.promoted != 0 && b.promoted != 0:
			return cmp.Compare(a.promoted, b.promoted)
		case a.promoted != 0:
			return -1
		case b.promoted != 0:
			return 1
		}
		if a.c.prio != b.c.prio {
			return cmp.Compare(b.c.prio, a.c.prio)
		}
		return cmp.Compare(a.pushed, b.pushed)
	})
	out := make([]*Task, len(s))
	for i, it := range s {
		out[i] = it.c
	}
	return out
}

func (m *queueModel) index(c *Task) int {
	return slices.IndexFunc(m.items, func(it modelItem) bool { return it.c == c })
}

// Queue operations decoded from the fuzz input, one byte each plus an
// argument byte.
const (
	opPush = iota
	opPop
	opRemove
	opPromote
	opRepush // push a task that left the queue earlier
	numOps
)

func FuzzQueue(f *testing.F) {
	// Seeds: opcode byte, argument byte, ...
	f.Add([]byte{})
	f.Add([]byte{opPush, 0, opPush, 1, opPush, 2, opPop, 0, opPop, 0, opPop, 0})
	f.Add([]byte{opPush, 4, opPush, 4, opPush, 0, opPromote, 2, opPromote, 0, opPop, 0, opPop, 0})
	f.Add([]byte{opPush, 3, opPush, 3, opRemove, 0, opRepush, 0, opPop, 0, opPop, 0, opPush, 3})
	f.Add([]byte{opPush, 1, opPush, 2, opPromote, 0, opPromote, 1, opPromote, 0, opRemove, 1, opPop, 0})
	f.Fuzz(runQueueOps)
}

// runQueueOps decodes data into queue operations and checks the queue
// against the model after each one.
func runQueueOps(t *testing.T, data []byte) {
	var q Queue
	var m queueModel
	var gone []*Task // tasks that left the queue, for opRepush
	for step := 0; step+1 < len(data); step += 2 {
		op, arg := data[step]%numOps, data[step+1]
		switch op {
		case opPush:
			c := qtask(int32(arg%5) - 2) // priorities -2..2
			q.Push(c)
			m.push(c)
		case opRepush:
			if len(gone) == 0 {
				continue
			}
			i := int(arg) % len(gone)
			c := gone[i]
			gone = slices.Delete(gone, i, i+1)
			c.prio = int32(arg%5) - 2
			q.Push(c)
			m.push(c)
		case opPop:
			want := m.order()
			got := q.Pop()
			if len(want) == 0 {
				if got != nil {
					t.Fatalf("step %d: Pop() = %p; want nil", step/2, got)
				}
				continue
			}
			if got != want[0] {
				t.Fatalf("step %d: Pop() = %p (prio %d); want %p (prio %d)", step/2, got, got.prio, want[0], want[0].prio)
			}
			m.remove(m.index(got))
			gone = append(gone, got)
		case opRemove:
			if len(m.items) == 0 {
				continue
			}
			c := m.remove(int(arg) % len(m.items))
			q.Remove(c)
			gone = append(gone, c)
		case opPromote:
			if len(m.items) == 0 {
				continue
			}
			i := int(arg) % len(m.items)
			q.Promote(m.items[i].c)
			m.promote(i)
		}
		checkQueue(t, step/2, &q, &m, gone)
	}
}

func checkQueue(t *testing.T, step int, q *Queue, m *queueModel, gone []*Task) {
	t.Helper()
	want := m.order()
	if got := q.Len(); got != len(want) {
		t.Fatalf("step %d: Len() = %d; want %d", step, got, len(want))
	}
	var wantPeek *Task
	if len(want) > 0 {
		wantPeek = want[0]
	}
	if got := q.Peek(); got != wantPeek {
		t.Fatalf("step %d: Peek() = %p; want %p", step, got, wantPeek)
	}
	var got []*Task
	q.Each(func(c *Task) { got = append(got, c) })
	if !slices.Equal(got, want) {
		t.Fatalf("step %d: Each order = %v; want %v", step, prios(got), prios(want))
	}
	for _, c := range want {
		if !Linked(c) {
			t.Fatalf("step %d: Linked(queued task) = false; want true", step)
		}
	}
	for _, c := range gone {
		if Linked(c) {
			t.Fatalf("step %d: Linked(task that left) = true; want false", step)
		}
	}
}

func prios(ts []*Task) []int32 {
	out := make([]int32, len(ts))
	for i, c := range ts {
		out[i] = c.prio
	}
	return out
}
