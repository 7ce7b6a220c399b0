package scheduler

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The scope heap (its run and its heap) against a plain model: after every
// push, remove and key change, top is the scope with the least key by
// keyBefore and len counts the scopes. Keys are drawn so that both parts
// are used: mostly later than any so far (the run's common case), often
// earlier (promoted, higher priority, an old head coming back), with aging
// on and off; removals hit the run's middle, front and back.
func TestScopeHeapAgainstAModel(t *testing.T) {
	for seed := range uint64(40) {
		for _, step := range []int64{0, 7} {
			checkScopeHeap(t, seed, step)
		}
	}
}

func checkScopeHeap(t *testing.T, seed uint64, step int64) {
	r := rand.New(rand.NewPCG(seed, uint64(step)))
	s := &Scheduler{agingStep: step}
	h := &scopeHeap{s: s}
	scopes := make([]*Scope, 1+r.IntN(60))
	for i := range scopes {
		scopes[i] = &Scope{name: string(rune('a' + i%26)), hid: -1}
	}
	// As in the scheduler, no two heads have the same FIFO key, nor the
	// same promote order.
	var clock uint64 = 1000
	used := map[uint64]bool{}
	unique := func(draw func() uint64) uint64 {
		for {
			if lo := draw(); !used[lo] {
				used[lo] = true
				return lo
			}
		}
	}
	newKey := func() headKey {
		clock += 1 + uint64(r.IntN(3))
		lo := clock
		switch r.IntN(10) {
		case 0: // promoted
			return headKey{0, unique(func() uint64 { return 1<<40 + uint64(r.IntN(1<<20)) })}
		case 1, 2: // earlier than the latest
			lo = unique(func() uint64 { return uint64(r.IntN(int(clock))) })
		}
		used[lo] = true
		prio := int64(0)
		if r.IntN(4) == 0 {
			prio = int64(r.IntN(5)) - 2
		}
		return headKey{unpromoted + uint64(1<<31-1-prio), lo}
	}
	in := map[*Scope]bool{}
	for op := range 3000 {
		sc := scopes[r.IntN(len(scopes))]
		switch {
		case !in[sc]:
			sc.key = newKey()
			h.push(sc)
			in[sc] = true
		case r.IntN(3) == 0:
			h.remove(sc)
			require.Nil(t, sc.in)
			delete(in, sc)
		default:
			if r.IntN(2) == 0 {
				// The head was admitted: the next is later (the run's case).
				clock += 1 + uint64(r.IntN(3))
				used[clock] = true
				sc.key = headKey{sc.key.hi, clock}
				if sc.key.hi == 0 {
					sc.key.hi = unpromoted + 1<<31 - 1
				}
			} else {
				sc.key = newKey()
			}
			h.fix(sc)
		}
		require.Equal(t, len(in), h.len(), "seed %d step %d op %d", seed, step, op)
		var best *Scope
		for x := range in {
			if best == nil || keyBefore(&x.key, &best.key, step) {
				best = x
			}
		}
		require.Same(t, best, h.top(), "seed %d step %d op %d: top", seed, step, op)
	}
	for x := range in {
		h.remove(x)
	}
	require.Zero(t, h.len())
	require.Nil(t, h.top())
	require.Len(t, s.hids.free, len(s.hids.sc), "every id given back")
}
