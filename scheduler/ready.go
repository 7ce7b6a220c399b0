package scheduler

import (
	"math"

	"github.com/lazysched/lazysched/internal/core"
)

// Admission order across scopes (DESIGN §5). Each scope with queued tasks
// is in exactly one place, under s.mu:
//
//   - s.ready, a heap of scopes ordered by their head task (promoted first
//     in promote order, then higher priority, aged if aging is on, then
//     earlier queued): the candidates for the next admission;
//   - the parked heap of one scope p on its path, when its head was found
//     not to fit p's cap (or, at its sharer, waiting for a shared permit):
//     it leaves s.ready until p has room again, so that admitting the next
//     task never looks at a scope that cannot take it;
//   - nowhere (stalled), when the scope is canceled or past its deadline:
//     the cancellation that empties its queue is on its way.
//
// admitOne pops from s.ready the scopes that cannot take their head and
// parks them; the first that can is the best candidate. A put of slots at a
// capped scope (a task's end, a lent slot, a raised cap) wakes the best of
// the scopes parked there, as many as its free slots may take; a scope
// woken for nothing (held up elsewhere) passes the wake-up on. Each move is
// O(log n) in the number of scopes.

// headKey is a scope's head task's place in the admission order, cached
// when the scope is placed so that the heaps compare without the tasks.
// It is two words, compared in turn when aging is off: hi is 0 for a
// promoted head, else 1<<32 plus MaxInt32 minus its priority (a higher
// priority is a smaller hi); lo is the promote order of a promoted head,
// else its FIFO key (core.Order). With aging, keyBefore takes the priority
// and the FIFO key (a queued time then) back out of them.
type headKey struct {
	hi, lo uint64
}

const unpromoted = 1 << 32

func keyOf(c *core.Task) headKey {
	if core.Promoted(c) {
		return headKey{0, uint64(*core.OrderWord(c))}
	}
	return headKey{unpromoted + uint64(math.MaxInt32-int64(core.Priority(c))), uint64(core.Order(c))}
}

// prio is the priority of a head that is not promoted.
func (k *headKey) prio() int64 { return math.MaxInt32 - int64(k.hi-unpromoted) }

// keyBefore orders two heads. With aging of step ns a task gains one level
// of priority per step queued, so a is before b if prio_a*step - queued_a
// is the greater: an order that does not change as time passes.
func keyBefore(a, b *headKey, step int64) bool {
	if step <= 0 || a.hi == 0 || b.hi == 0 {
		return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo
	}
	d := a.prio() - b.prio()
	if d != 0 && (d > math.MaxInt64/step || -d > math.MaxInt64/step) {
		return d > 0 // a priority gap no wait in int64 ns can close
	}
	// Queued times are positive ns since a base, so their difference
	// does not overflow.
	if x, y := d*step, int64(a.lo)-int64(b.lo); x != y {
		return x > y
	}
	return a.lo < b.lo
}

// scopeHeap is the scopes of s.ready (or of a parked heap) ordered by head
// key, in two parts: a run, a ring of scopes whose keys were appended in
// order, and a 4-ary heap of the others. A scope goes to the run if its key
// is not before the key last appended there, else to the heap; the next
// scope is the better of the run's front and the heap's top.
//
// The run is what makes many scopes cheap. Under the common load (one
// priority, tasks spread over the scopes), a scope whose head is admitted
// gets the next of its tasks as its head, which is later than the heads
// of the others: it would sink to the bottom of a heap, a sift of log n
// levels, each a few key compares and a write; in the run it is appended,
// O(1). The heap keeps what comes out of order (a promoted or a higher
// priority head, a parked scope back with an old head).
//
// A scope taken out of the run leaves a hole (id -1) that the front skips;
// the run's keys stay in order because a key in it never changes in place
// (a changed key is taken out and put again), except that of its last
// entry when it grows, which keeps the order.
//
// The keys are kept in the structure's own arrays, so that comparing reads
// contiguous memory, not the scopes; and where a scope is (its heap index
// or run slot) is kept in the scheduler's dense table (heapIDs), not in the
// scope, so that a sift, which moves a scope per level, writes to that
// small table rather than to a scope struct that is not otherwise touched
// (a cache miss per level at 10,000 scopes).
type scopeHeap struct {
	// xs and rlive come first and together, as len reads both: a scope's
	// parked heap is looked at on every release (Scope's lines).
	xs    []heapEnt // the heap
	rlive int       // the run's scopes
	s     *Scheduler

	ring  []heapEnt // the run, a power of two long; id -1 marks a hole
	rhead int       // the run's first slot
	rn    int       // the run's entries, holes included
	rmax  headKey   // the key appended last
}

type heapEnt struct {
	key headKey
	id  int32 // the scope's heap id (heapIDs)
}

// Where a scope is: pos >= 0 is its index in the heap; pos <= -2 is run
// slot -2-pos; -1 is nowhere.
func inRun(pos int32) bool  { return pos <= -2 }
func runPos(slot int) int32 { return int32(-2 - slot) }
func runSlot(pos int32) int { return int(-2 - pos) }

// heapIDs gives each scope that is in a heap (s.ready or a parked heap)
// a small id while it is there, under s.mu: pos[id] is its index in that
// heap and sc[id] the scope. Ids are taken at push and given back at
// remove, the last given back taken first, so the table is as large as
// the most scopes ever queued at once, not as the scopes ever made (I12).
type heapIDs struct {
	pos  []int32
	sc   []*Scope
	free []int32
}

func (t *heapIDs) take(sc *Scope) int32 {
	if n := len(t.free); n > 0 {
		id := t.free[n-1]
		t.free = t.free[:n-1]
		t.sc[id] = sc
		return id
	}
	t.pos = append(t.pos, -1)
	t.sc = append(t.sc, sc)
	return int32(len(t.sc) - 1)
}

func (t *heapIDs) give(id int32) {
	t.sc[id] = nil // a released scope is not kept alive by the table
	t.pos[id] = -1
	t.free = append(t.free, id)
}

// The heap is 4-ary: half the depth of a binary one, so a scope that
// sinks from the top to the bottom (the common move: round-robin
// submission makes each new head the latest) touches half as many scopes
// to update their indexes, and its four children's keys lie together.
const heapArity = 4

func (h *scopeHeap) before(a, b *heapEnt) bool {
	if step := h.s.agingStep; step > 0 {
		return keyBefore(&a.key, &b.key, step)
	}
	return a.key.hi < b.key.hi || a.key.hi == b.key.hi && a.key.lo < b.key.lo
}

// set puts e at i.
func (h *scopeHeap) set(i int, e heapEnt) {
	h.xs[i] = e
	h.s.hids.pos[e.id] = int32(i)
}

// up moves the entry at i up to its place, shifting parents down.
func (h *scopeHeap) up(i int) {
	e := h.xs[i]
	for i > 0 {
		p := (i - 1) / heapArity
		if !h.before(&e, &h.xs[p]) {
			break
		}
		h.set(i, h.xs[p])
		i = p
	}
	h.set(i, e)
}

// down moves the entry at i down to its place and reports whether it
// moved.
func (h *scopeHeap) down(i int) bool {
	i0 := i
	e := h.xs[i]
	n := len(h.xs)
	for {
		first := heapArity*i + 1
		if first >= n {
			break
		}
		m := first
		for c := first + 1; c < first+heapArity && c < n; c++ {
			if h.before(&h.xs[c], &h.xs[m]) {
				m = c
			}
		}
		if !h.before(&h.xs[m], &e) {
			break
		}
		h.set(i, h.xs[m])
		i = m
	}
	h.set(i, e)
	return i > i0
}

func (h *scopeHeap) push(sc *Scope) {
	sc.in = h
	sc.hid = h.s.hids.take(sc)
	h.put(heapEnt{sc.key, sc.hid})
}

// put adds e to the run if its key is not before the last appended there,
// else to the heap.
func (h *scopeHeap) put(e heapEnt) {
	if h.rlive == 0 || !h.before(&e, &heapEnt{key: h.rmax}) {
		h.appendRun(e)
		return
	}

	i := len(h.xs)
	h.xs = append(h.xs, e)
	h.up(i)
}

func (h *scopeHeap) appendRun(e heapEnt) {
	if h.rn == len(h.ring) {
		h.regrow()
	}
	slot := (h.rhead + h.rn) & (len(h.ring) - 1)
	h.ring[slot] = e
	h.s.hids.pos[e.id] = runPos(slot)
	h.rn++
	h.rlive++
	h.rmax = e.key
}

// regrow copies the run's scopes, without its holes, to a ring at most
// half full by them.
func (h *scopeHeap) regrow() {
	n := max(8, len(h.ring))
	for h.rlive*2 > n {
		n *= 2
	}
	ring := make([]heapEnt, n)
	k := 0
	for j := range h.rn {
		e := h.ring[(h.rhead+j)&(len(h.ring)-1)]
		if e.id < 0 {
			continue
		}
		ring[k] = e
		h.s.hids.pos[e.id] = runPos(k)
		k++
	}
	h.ring, h.rhead, h.rn = ring, 0, k
}

// front returns the run's first scope's entry, dropping the holes before
// it, or nil.
func (h *scopeHeap) front() *heapEnt {
	for h.rn > 0 {
		e := &h.ring[h.rhead]
		if e.id >= 0 {
			return e
		}
		h.rhead = (h.rhead + 1) & (len(h.ring) - 1)
		h.rn--
	}
	return nil
}

// take takes sc out, keeping its id.
func (h *scopeHeap) take(sc *Scope) {
	t := &h.s.hids
	pos := t.pos[sc.hid]
	if inRun(pos) {
		h.ring[runSlot(pos)].id = -1
		if h.rlive--; h.rlive == 0 {
			h.rhead, h.rn = 0, 0
		}
		t.pos[sc.hid] = -1
		return
	}
	i := int(pos)
	last := len(h.xs) - 1
	if i != last {
		h.set(i, h.xs[last])
	}
	h.xs[last] = heapEnt{}
	h.xs = h.xs[:last]
	if i != last && !h.down(i) {
		h.up(i)
	}
	t.pos[sc.hid] = -1
}

func (h *scopeHeap) remove(sc *Scope) {
	h.take(sc)
	h.s.hids.give(sc.hid)
	sc.in, sc.hid = nil, -1
}

// fix moves sc to its place after its key changed.
func (h *scopeHeap) fix(sc *Scope) {
	pos := h.s.hids.pos[sc.hid]
	if !inRun(pos) {
		i := int(pos)
		h.xs[i].key = sc.key
		if !h.down(i) {
			h.up(i)
		}
		return
	}
	slot := runSlot(pos)
	if e := &h.ring[slot]; slot == (h.rhead+h.rn-1)&(len(h.ring)-1) && !h.before(&heapEnt{key: sc.key}, e) {
		e.key = sc.key // the last one, later than it was: the order holds
		h.rmax = sc.key
		return
	}
	h.take(sc)
	h.put(heapEnt{sc.key, sc.hid})
}

func (h *scopeHeap) top() *Scope {
	f := h.front()
	switch {
	case f == nil && len(h.xs) == 0:
		return nil
	case f == nil || len(h.xs) > 0 && h.before(&h.xs[0], f):
		return h.s.hids.sc[h.xs[0].id]
	default:
		return h.s.hids.sc[f.id]
	}
}

func (h *scopeHeap) len() int { return len(h.xs) + h.rlive }

// peekHead returns the task next in line in sc's own queue.
func (sc *Scope) peekHead() *core.Task {
	if step := sc.s.agingStep; step > 0 {
		return sc.q.PeekAged(step)
	}
	return sc.q.Peek()
}

// placeLocked puts sc where it belongs after its queue changed (a push, a
// removal, a promote): off every heap if its queue is empty; else, if its
// head changed, back among the candidates with its new key.
func (sc *Scope) placeLocked() {
	s := sc.s
	c := sc.peekHead()
	if c == nil {
		sc.head = nil
		if sc.in != nil {
			sc.unparkLocked()
		}
		sc.passWakeLocked() // woken for room it no longer needs
		return
	}
	if c == sc.head && sc.in != nil {
		return
	}
	sc.head = c
	sc.key = keyOf(c)
	switch {
	case sc.in == &s.ready:
		s.ready.fix(sc)
		// Woken for the room of the head it had: the new head may take
		// less of it, or none (held up elsewhere), and what it leaves is
		// owed to the heads parked where the room is.
		sc.passWakeLocked()
	case sc.in != nil:
		// Parked on a head that has changed: the new one may fit.
		sc.unparkLocked()
		s.ready.push(sc)
	default:
		s.ready.push(sc)
	}
}

// parkLocked moves sc, at the top of s.ready, to p's parked heap.
func (sc *Scope) parkLocked(p *Scope) {
	s := sc.s
	s.ready.remove(sc)
	p.parked.s = s
	p.parked.push(sc)
	// Woken for room sc cannot use: pass it on. Woken at p and parked at p
	// again, sc found p full (the wake-up then stops at sc, the first too
	// heavy) or a head parked at p before its own (the order rule of
	// blockedBelowRoot: sc's head changed while it was woken, or that head
	// was parked since): that head is owed the room. At a sharer, where
	// sc waits for a permit, a wake-up would only wake sc again.
	if sc.woke != p || p.shared == nil {
		sc.passWakeLocked()
	}
	sc.woke = nil
}

// stallLocked takes sc, at the top of s.ready, out of the order: it is
// canceled or past its deadline, and its queue is about to be emptied.
func (sc *Scope) stallLocked() {
	sc.s.ready.remove(sc)
	sc.passWakeLocked()
}

// passWakeLocked passes on the wake-up sc was woken by, if any, for room
// it will not use: the cap that woke it wakes the next heads parked there.
func (sc *Scope) passWakeLocked() {
	if from := sc.woke; from != nil {
		sc.woke = nil
		from.wakeLocked()
	}
}

// wakeLocked moves the best scopes parked at p back to s.ready, as many as
// p's free slots may take one head each, up to the first head too heavy
// for the room: it and the scopes behind it stay parked, so that lighter
// heads queued after it do not overtake it for ever (at a sharer, whose
// parked scopes wait for a permit, lighter ones behind it are woken).
func (p *Scope) wakeLocked() {
	h := &p.parked
	if h.len() == 0 {
		return
	}
	s := p.s
	room := int64(math.MaxInt64)
	if !p.lim.Unlimited() {
		room = p.lim.Limit() - p.lim.InUse()
	}
	var heavy []*Scope
	for room > 0 && h.len() > 0 {
		sc := h.top()
		h.remove(sc)
		w := core.Weight(sc.head)
		if w > room {
			if p.shared == nil {
				// First in line at p: the lighter heads behind it wait
				// with it (blockedBelowRoot), as at the root.
				h.push(sc)
				break
			}
			heavy = append(heavy, sc)
			continue
		}
		room -= w
		sc.woke = p
		s.ready.push(sc)
	}
	for _, sc := range heavy {
		h.push(sc)
	}
}

// wakeAllLocked moves every scope parked at p back to s.ready: a shared
// permit came, or went, at p.
func (p *Scope) wakeAllLocked() {
	h := &p.parked
	for h.len() > 0 {
		sc := h.top()
		h.remove(sc)
		sc.woke = nil
		p.s.ready.push(sc)
	}
}

// blockedBelowRoot returns the lowest capped scope on sc's path, below the
// root, that has no room for w more slots, or where a head before sc's
// waits for room (parked there), or nil: as at the root, a head too heavy
// for the room at a cap holds up the heads after it under that cap, so
// that lighter ones do not take every slot that frees there for ever. A
// sharer's parked scopes wait for a permit, not in this order.
func (sc *Scope) blockedBelowRoot(w int64) *Scope {
	for p := sc; p.parent != nil; p = p.parent {
		if !p.lim.Fits(w) {
			return p
		}
		if p.parked.len() > 0 && p.shared == nil {
			if first := p.parked.top(); keyBefore(&first.key, &sc.key, sc.s.agingStep) {
				return p
			}
		}
	}
	return nil
}

// unparkLocked takes sc out of the heap it is in, other than by a wake-up
// (its queue emptied, its head changed): if that was a parked heap, the
// heads behind sc there may have been held up by sc's alone, and are woken
// as far as the room there goes.
func (sc *Scope) unparkLocked() {
	h := sc.in
	h.remove(sc)
	if h == &sc.s.ready {
		return
	}
	for p := sc; p != nil; p = p.parent {
		if &p.parked == h {
			p.wakeLocked()
			return
		}
	}
}

// admitOne admits the best queued task whose caps all have room, under
// s.mu; now is its start time (0: read the clock). The best candidate is
// the first scope of s.ready that can take its head; if that head does not
// fit the root cap, nothing is admitted, so a heavy task is not overtaken
// forever.
func (s *Scheduler) admitOne(now int64) *core.Task {
	if len(s.reclaims) > 0 && !s.grantReclaimsLocked() {
		return nil
	}
	clock := now
	for {
		sc := s.ready.top()
		if sc == nil {
			return nil
		}
		c := sc.head
		w := core.Weight(c)
		if sc.deadline != 0 {
			if clock == 0 {
				clock = s.now()
			}
			if clock >= sc.deadline {
				sc.stallLocked() // timed out: its cancellation is on the way
				continue
			}
		}
		if sc.dead || sc.ctx.Err() != nil {
			sc.stallLocked() // canceled: the same
			continue
		}
		if p := sc.blockedBelowRoot(w); p != nil {
			sc.parkLocked(p)
			continue
		}
		if !s.root.lim.Fits(w) {
			return nil
		}
		if x := sc.sharer; x != nil && !x.sharedReadyLocked(c) {
			sc.parkLocked(x) // until the permit asked for comes
			continue
		}
		sc.woke = nil
		if x := sc.sharer; x != nil {
			x.takePermitLocked(c)
		}
		sc.unqueueLocked(c)
		// now may be a clock read taken before the lock (the finish time
		// of the previous task): keep start times in admission order, and
		// never before the task was queued. A task that keeps no timings
		// needs no time.
		if core.Timed(c) {
			if now == 0 && s.clk != nil {
				now = s.clk.Now()
			} else if now == 0 {
				now = core.Now()
			}
			now = max(now, s.lastStart, core.QueuedAt(c))
			s.lastStart = now
		}
		core.Admit(c, false, now)
		sc.takePath(w)
		sc.running.PushBack(c)
		s.running++
		return c
	}
}

// admitAllLocked admits every task that fits, each on a new goroutine.
func (s *Scheduler) admitAllLocked() {
	if len(s.reclaims) > 0 && s.queued == 0 {
		s.grantReclaimsLocked()
	}
	for s.queued > 0 {
		c := s.admitOne(0)
		if c == nil {
			break
		}
		s.wg.Add(1)
		s.startLocked(c)
	}
}
