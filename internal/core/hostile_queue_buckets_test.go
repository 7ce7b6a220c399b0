package core

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// bucketsHeld is the number of buckets q's heap holds, empty ones too.
func bucketsHeld(q *Queue) int {
	if q.more == nil {
		return 0
	}
	return len(q.more.heap)
}

// A queue whose tasks leave it from below its top priority (admitted by
// aging, canceled, expired, promoted) while a higher priority is always
// queued must not keep a bucket for every priority it ever held: with a
// priority that grows over time (newest first, aged so that old work
// still runs), the heap grew by one empty bucket per task, for ever, and
// PeekAged, which looks at every bucket, got slower with each (I12).
func TestHostileQueueDropsBucketsEmptiedBelowItsTop(t *testing.T) {
	for _, tc := range []struct {
		name string
		next func(q *Queue) *Task // the task that leaves the queue
	}{
		{"aged admission", func(q *Queue) *Task { return q.PeekAged(1) }},
		{"remove of the oldest", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var q Queue
			var old []*Task
			push := func(i int) {
				c := qtask(int32(i))
				c.order = int64(i) * 1000 // queued 1000 ns apart: the oldest wins an aged peek
				q.Push(c)
				old = append(old, c)
			}
			most := 0
			push(0)
			push(1)
			for i := 2; i < 2000; i++ {
				push(i)
				c := old[0]
				if tc.next != nil {
					require.Same(t, c, tc.next(&q), "step %d: the oldest task is next with aging", i)
				}
				q.Remove(c)
				old = old[1:]
				require.Equal(t, 2, q.Len())
				most = max(most, bucketsHeld(&q))
			}
			require.LessOrEqual(t, most, 2*(q.Len()+1)+2, "buckets kept for priorities no task has: at most twice the tasks (plus slack), not one per priority ever queued")
			require.Equal(t, []*Task{old[1], old[0]}, drain(&q), "what is left pops in priority order")
			require.Zero(t, bucketsHeld(&q))
		})
	}
}

// The queue against the model of queue_model_test.go with many priorities
// and more removals than pushes at times, so that the heap fills with
// empty buckets and trim drops them often, also down to one bucket or
// none while promoted tasks are left.
func TestHostileQueueTrimAgainstAModel(t *testing.T) {
	trims := 0
	for seed := uint64(0); seed < 300; seed++ {
		r := rand.New(rand.NewPCG(seed, seed*13+5))
		var q Queue
		var items []modelEntry
		var order int64
		var pseq int
		nprio := 2 + r.IntN(40)
		step := int64(1 + r.IntN(4))
		for op := 0; op < 400; op++ {
			before := bucketsHeld(&q)
			drain := op%100 >= 60 // a phase of removals
			switch k := r.IntN(10); {
			case k < 4 && !drain || len(items) == 0:
				c := qtask(int32(r.IntN(nprio) - nprio/2))
				order += int64(r.IntN(3))
				c.order = order
				order++
				q.Push(c)
				items = append(items, modelEntry{c: c})
			case k < 6:
				i := r.IntN(len(items))
				q.Remove(items[i].c)
				items = slices.Delete(items, i, i+1)
			case k < 7:
				i := r.IntN(len(items))
				q.Promote(items[i].c)
				pseq++
				items[i].promoted = pseq
			case k < 8:
				want := modelPeekAged(items, step)
				got := q.PeekAged(step)
				require.Same(t, want, got, "seed %d op %d: aged pop", seed, op)
				q.Remove(got)
				i := slices.IndexFunc(items, func(it modelEntry) bool { return it.c == got })
				items = slices.Delete(items, i, i+1)
			default:
				eo := modelEachOrder(items)
				got := q.Pop()
				require.Same(t, eo[0], got, "seed %d op %d: Pop", seed, op)
				i := slices.IndexFunc(items, func(it modelEntry) bool { return it.c == got })
				items = slices.Delete(items, i, i+1)
			}
			if bucketsHeld(&q) < before-1 {
				trims++
			}
			require.Equal(t, len(items), q.Len())
			got := []*Task{}
			q.Each(func(c *Task) { got = append(got, c) })
			require.Equal(t, append([]*Task{}, modelEachOrder(items)...), got, "seed %d op %d: Each", seed, op)
			checkQueueBuckets(t, &q)
			require.LessOrEqual(t, bucketsHeld(&q), 2*q.Len()+3, "seed %d op %d", seed, op)
		}
	}
	require.Positive(t, trims, "trim ran")
}
