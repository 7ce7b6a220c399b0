package core

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// qtask returns a fresh task with priority p for queue tests. Only the
// priority and the queue links matter to Queue.
func qtask(p int32) *Task { return &Task{prio: p} }

// taskOf turns a list's node back into its task, which holds only while
// the links are the task's first field; and a sentinel stays 16 bytes.
func TestTheLinksAreTheTasksFirstField(t *testing.T) {
	var c Task
	require.Zero(t, unsafe.Offsetof(c.node))
	require.Same(t, &c, taskOf(&c.node))
	require.Equal(t, uintptr(16), unsafe.Sizeof(list{}))
	require.LessOrEqual(t, unsafe.Sizeof(bucket{}), uintptr(32), "a bucket outgrew its size class")
}

// drain pops every task and returns them in pop order.
func drain(q *Queue) []*Task {
	var out []*Task
	for c := q.Pop(); c != nil; c = q.Pop() {
		out = append(out, c)
	}
	return out
}

// each returns the tasks in the order Queue.Each visits them.
func each(q *Queue) []*Task {
	var out []*Task
	q.Each(func(c *Task) { out = append(out, c) })
	return out
}

func TestQueueZeroValueIsEmpty(t *testing.T) {
	var q Queue
	assert.Equal(t, 0, q.Len(), "Len() of a zero Queue")
	assert.Nil(t, q.Peek(), "Peek() of a zero Queue")
	assert.Nil(t, q.Pop(), "Pop() of a zero Queue")
	assert.Empty(t, each(&q), "Each of a zero Queue")
}

func TestQueuePopsHighestPriorityFirstThenFIFO(t *testing.T) {
	var q Queue
	a0, b5, c0, d5, e9, f0 := qtask(0), qtask(5), qtask(0), qtask(5), qtask(9), qtask(0)
	for _, c := range []*Task{a0, b5, c0, d5, e9, f0} {
		q.Push(c)
	}
	require.Equal(t, 6, q.Len(), "Len() after 6 pushes")
	want := []*Task{e9, b5, d5, a0, c0, f0}
	assert.Equal(t, want, each(&q), "Each order")
	assert.Same(t, e9, q.Peek(), "Peek()")
	got := drain(&q)
	assert.Equal(t, want, got, "pop order")
	assert.Equal(t, 0, q.Len(), "Len() after draining")
}

func TestQueueHandlesNegativeAndExtremePriorities(t *testing.T) {
	var q Queue
	lo, mid, hi := qtask(-1<<31), qtask(-3), qtask(1<<31-1)
	q.Push(mid)
	q.Push(lo)
	q.Push(hi)
	assert.Equal(t, []*Task{hi, mid, lo}, drain(&q), "pop order")
}

func TestQueuePromotedGoAheadOfEveryPriorityInPromoteOrder(t *testing.T) {
	var q Queue
	hi1, hi2, lo1, lo2, lo3 := qtask(10), qtask(10), qtask(0), qtask(0), qtask(0)
	for _, c := range []*Task{hi1, hi2, lo1, lo2, lo3} {
		q.Push(c)
	}
	q.Promote(lo3)
	q.Promote(lo1)
	assert.Equal(t, 5, q.Len(), "Len() after promotes")
	assert.Same(t, lo3, q.Peek(), "Peek() after Promote(lo3), Promote(lo1)")
	assert.Equal(t, []*Task{lo3, lo1, hi1, hi2, lo2}, drain(&q), "pop order")
}

func TestQueuePromoteAgainMovesBehindLaterPromotes(t *testing.T) {
	// Promote's doc: "moves c to the head of the queue, behind tasks
	// promoted earlier". A second promote is a new promote.
	var q Queue
	a, b := qtask(0), qtask(0)
	q.Push(a)
	q.Push(b)
	q.Promote(a)
	q.Promote(b)
	q.Promote(a)
	assert.Equal(t, []*Task{b, a}, drain(&q), "pop order")
}

func TestQueueRemoveUnlinksFromAnyPosition(t *testing.T) {
	var q Queue
	a, b, c, d := qtask(1), qtask(1), qtask(2), qtask(0)
	for _, x := range []*Task{a, b, c, d} {
		q.Push(x)
	}
	q.Promote(d)
	q.Remove(b) // middle of a priority
	q.Remove(d) // promoted lane
	q.Remove(c) // only task of the highest priority
	assert.False(t, Linked(b), "Linked(b) after Remove(b)")
	assert.False(t, Linked(c), "Linked(c) after Remove(c)")
	assert.False(t, Linked(d), "Linked(d) after Remove(d)")
	assert.True(t, Linked(a), "Linked(a) while queued")
	assert.Equal(t, 1, q.Len(), "Len() after 3 removes")
	assert.Same(t, a, q.Peek(), "Peek()")
	assert.Equal(t, []*Task{a}, drain(&q), "pop order")
}

func TestQueueReusesATaskAfterItLeft(t *testing.T) {
	var q Queue
	a, b := qtask(3), qtask(3)
	q.Push(a)
	q.Push(b)
	require.Same(t, a, q.Pop(), "first Pop()")
	q.Push(a) // a goes behind b
	assert.Equal(t, []*Task{b, a}, drain(&q), "pop order after re-push")
	// The priority's bucket was emptied and dropped; pushing again must
	// make a fresh one, not use the stale cache.
	q.Push(a)
	q.Push(qtask(1))
	assert.Same(t, a, q.Peek(), "Peek() after the bucket was recreated")
	assert.Equal(t, 2, q.Len(), "Len()")
	drain(&q)
}

func TestQueueEmptyBucketsDoNotHideLowerPriorities(t *testing.T) {
	var q Queue
	hi, lo := qtask(7), qtask(1)
	q.Push(hi)
	q.Push(lo)
	q.Remove(hi) // leaves an empty bucket at the top of the heap
	assert.Same(t, lo, q.Peek(), "Peek() after removing the only high task")
	assert.Equal(t, []*Task{lo}, each(&q), "Each after removing the only high task")
}

func TestQueueEachDoesNotChangeTheQueue(t *testing.T) {
	var q Queue
	ts := []*Task{qtask(2), qtask(1), qtask(2), qtask(3)}
	for _, c := range ts {
		q.Push(c)
	}
	q.Promote(ts[1])
	first := each(&q)
	second := each(&q)
	assert.Equal(t, first, second, "two Each calls")
	assert.Equal(t, 4, q.Len(), "Len() after Each")
	assert.Equal(t, first, drain(&q), "pop order = Each order")
}

func TestQueueManyPrioritiesPopSorted(t *testing.T) {
	var q Queue
	var want []*Task
	// 64 tasks over 16 priorities in a scrambled push order.
	for i := range 64 {
		c := qtask(int32((i * 7) % 16))
		q.Push(c)
		want = append(want, c)
	}
	slices.SortStableFunc(want, func(a, b *Task) int { return int(b.prio) - int(a.prio) })
	assert.Equal(t, want, drain(&q), "pop order")
}

// A queue of one priority that empties and fills again, as a scope's does
// when its tasks are admitted as they come, allocates nothing: its bucket
// stays, and it has no map until a second priority comes.
func TestQueueThatEmptiesAndFillsAgainAllocatesNothing(t *testing.T) {
	var q Queue
	a, b := qtask(0), qtask(0)
	q.Push(a)
	require.Same(t, a, q.Pop())
	allocs := testing.AllocsPerRun(100, func() {
		q.Push(a)
		q.Push(b)
		if q.Pop() != a || q.Pop() != b || q.Pop() != nil {
			panic("out of order")
		}
	})
	assert.Zero(t, allocs)
	assert.Nil(t, q.more, "one priority needs no heap")

	// A second priority makes the map, and both are still found.
	hi := qtask(5)
	q.Push(a)
	q.Push(hi)
	q.Push(b)
	assert.True(t, q.multi())
	assert.Equal(t, []*Task{hi, a, b}, drain(&q))
}

// A queue back to one priority uses its one bucket again, with the tasks
// of the priority that is left moved there, in order, whichever bucket
// they were in; and nothing is allocated once the heap was made.
func TestQueueBackToOnePriorityUsesItsOneBucket(t *testing.T) {
	var q Queue
	lo1, hi1, hi2, lo2 := qtask(1), qtask(5), qtask(5), qtask(1)
	q.Push(lo1) // the one bucket is priority 1's
	q.Push(hi1) // a heap: 1 and 5
	q.Push(hi2)
	q.Push(lo2)
	q.Remove(lo1)
	q.Remove(lo2) // priority 1 empty, not on top: stays
	require.True(t, q.multi())
	require.Same(t, hi1, q.Pop())
	// 5 on top and not empty; 1 empty below it.
	require.Equal(t, []*Task{hi2}, each(&q))
	require.Same(t, hi2, q.Pop()) // 5 empties: popped, 1 is left
	require.Nil(t, q.Peek())
	require.False(t, q.multi(), "one bucket left")

	// Priority 5 in a bucket of its own, then 7, then 7 empties: 5's
	// tasks move to the one bucket.
	q.Push(hi1) // the one bucket, empty, is 5's now
	q.Push(qtask(7))
	require.True(t, q.multi())
	q.Push(hi2)
	require.Equal(t, 7, int(q.Pop().prio))
	require.Same(t, hi1, q.Peek())
	require.False(t, q.multi())
	require.Equal(t, []*Task{hi1, hi2}, each(&q))
	allocs := testing.AllocsPerRun(100, func() {
		q.Push(lo1) // a second priority: the heap and map are kept
		q.Remove(lo1)
		q.Push(qtask7)
		q.Remove(qtask7)
		if q.Peek() != hi1 {
			panic("out of order")
		}
	})
	assert.LessOrEqual(t, allocs, 1.0, "a second priority comes and goes: at most its bucket")
	assert.Equal(t, []*Task{hi1, hi2}, drain(&q))
}

var qtask7 = qtask(7)
