package core

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// modelEntry is a queued task in a model of Queue with aging: promoted
// ones first (in promote order), then Peek's order (priority, then FIFO)
// or PeekAged's (AgedBefore over every queued task).
type modelEntry struct {
	c        *Task
	promoted int
}

func modelPeekAged(items []modelEntry, step int64) *Task {
	var bestP *modelEntry
	var best *Task
	for i := range items {
		it := &items[i]
		if it.promoted != 0 {
			if bestP == nil || it.promoted < bestP.promoted {
				bestP = it
			}
			continue
		}
		if best == nil || AgedBefore(it.c, best, step) {
			best = it.c
		}
	}
	if bestP != nil {
		return bestP.c
	}
	return best
}

func modelEachOrder(items []modelEntry) []*Task {
	s := slices.Clone(items)
	slices.SortStableFunc(s, func(a, b modelEntry) int {
		switch {
		case a.promoted != 0 && b.promoted != 0:
			return a.promoted - b.promoted
		case a.promoted != 0:
			return -1
		case b.promoted != 0:
			return 1
		}
		if a.c.prio != b.c.prio {
			if a.c.prio > b.c.prio {
				return -1
			}
			return 1
		}
		if a.c.order < b.c.order {
			return -1
		}
		return 1
	})
	out := make([]*Task, len(s))
	for i := range s {
		out[i] = s[i].c
	}
	return out
}

// The queue against a plain model, with aging and with the one bucket's
// moves (to the heap at a second priority, back when one is left): Push,
// Remove, Promote, Peek, PeekAged, Pop and an aged pop in random mixes of
// one to five priorities, with and without Peek between operations (so
// that empty buckets stay in the heap); Each, the heap's indices and map
// and every task's links are checked after each operation.
func TestQueueWithAgingAndBucketMovesAgainstAModel(t *testing.T) {
	for seed := uint64(0); seed < 600; seed++ {
		r := rand.New(rand.NewPCG(seed, seed*7+1))
		var q Queue
		var items []modelEntry
		var order int64
		var pseq int
		nprio := 1 + r.IntN(5)
		step := int64(1 + r.IntN(4))
		for op := 0; op < 300; op++ {
			switch k := r.IntN(10); {
			case k < 4:
				c := qtask(int32(r.IntN(nprio)))
				order += int64(r.IntN(3))
				c.order = order
				order++
				q.Push(c)
				items = append(items, modelEntry{c: c})
			case k < 5 && len(items) > 0:
				i := r.IntN(len(items))
				q.Remove(items[i].c)
				items = slices.Delete(items, i, i+1)
			case k < 6 && len(items) > 0:
				i := r.IntN(len(items))
				q.Promote(items[i].c)
				pseq++
				items[i].promoted = pseq
			case k < 7:
				want := modelPeekAged(items, step)
				if got := q.PeekAged(step); got != want {
					t.Fatalf("seed %d op %d: PeekAged = %v, want %v", seed, op, got, want)
				}
			case k < 8:
				want := modelPeekAged(items, step)
				got := q.PeekAged(step)
				if got != want {
					t.Fatalf("seed %d op %d: aged pop = %v, want %v", seed, op, got, want)
				}
				if got != nil {
					q.Remove(got)
					i := slices.IndexFunc(items, func(it modelEntry) bool { return it.c == got })
					items = slices.Delete(items, i, i+1)
				}
			case k < 9:
				eo := modelEachOrder(items)
				got := q.Pop()
				var want *Task
				if len(eo) > 0 {
					want = eo[0]
				}
				if got != want {
					t.Fatalf("seed %d op %d: Pop = %v, want %v", seed, op, got, want)
				}
				if got != nil {
					i := slices.IndexFunc(items, func(it modelEntry) bool { return it.c == got })
					items = slices.Delete(items, i, i+1)
				}
			default:
				eo := modelEachOrder(items)
				var want *Task
				if len(eo) > 0 {
					want = eo[0]
				}
				if got := q.Peek(); got != want {
					t.Fatalf("seed %d op %d: Peek = %v, want %v", seed, op, got, want)
				}
			}
			if q.Len() != len(items) {
				t.Fatalf("seed %d op %d: Len %d want %d", seed, op, q.Len(), len(items))
			}
			var got []*Task
			q.Each(func(c *Task) {
				if c.next.prev != &c.node || c.prev.next != &c.node {
					t.Fatalf("seed %d op %d: broken links", seed, op)
				}
				got = append(got, c)
			})
			if want := modelEachOrder(items); !slices.Equal(got, want) {
				t.Fatalf("seed %d op %d: Each = %d tasks, want %d (%v vs %v)", seed, op, len(got), len(want), prios(got), prios(want))
			}
			checkQueueBuckets(t, &q)
		}
	}
}

// checkQueueBuckets checks the queue's internal invariants: heap indices,
// the map, and the one bucket's place.
func checkQueueBuckets(t *testing.T, q *Queue) {
	t.Helper()
	if !q.multi() {
		if q.more != nil && len(q.more.byPrio) != 0 {
			t.Fatalf("single mode with a non-empty map")
		}
		return
	}
	m := q.more
	if len(m.heap) < 2 {
		t.Fatalf("multi mode with %d buckets", len(m.heap))
	}
	inHeap := false
	for i, b := range m.heap {
		if int(b.idx) != i {
			t.Fatalf("bucket %d has idx %d", i, b.idx)
		}
		if m.byPrio[b.prio] != b {
			t.Fatalf("bucket prio %d not in map", b.prio)
		}
		if b == &q.one {
			inHeap = true
		}
		if i > 0 && m.heap[(i-1)/2].prio < b.prio {
			t.Fatalf("heap order broken")
		}
	}
	if len(m.byPrio) != len(m.heap) {
		t.Fatalf("map %d vs heap %d", len(m.byPrio), len(m.heap))
	}
	if !inHeap && !q.one.list.empty() {
		t.Fatalf("one bucket out of the heap holds tasks")
	}
	if !inHeap && q.one.idx >= 0 {
		t.Fatalf("one bucket out of the heap with idx %d", q.one.idx)
	}
}
