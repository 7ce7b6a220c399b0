package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/lazytask"
)

// rvLog records the order in which task functions run.
type rvLog struct {
	mu    sync.Mutex
	names []string
}

func (l *rvLog) add(n string) { l.mu.Lock(); l.names = append(l.names, n); l.mu.Unlock() }
func (l *rvLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.names...)
}

// rvHold runs a task on sp that holds its slot until the returned func is
// called, and waits until it runs.
func rvHold(t *testing.T, sp Spawner) func() {
	t.Helper()
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open)
	_, err := Go(sp, func(context.Context) error { close(started); <-release; return nil })
	require.NoError(t, err)
	<-started
	return open
}

// A promoted task that is already its scope's head must still go ahead of
// every unpromoted task of the other scopes ("promoted tasks first").
func TestPromoteOfAScopesHeadGoesFirstAcrossScopes(t *testing.T) {
	s, err := New(WithLimit(1))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) }) // after the holders (cleanups run last first)
	a, err := s.Root().NewScope()
	require.NoError(t, err)
	b, err := s.Root().NewScope()
	require.NoError(t, err)
	open := rvHold(t, s)
	var log rvLog
	fn := func(n string) func(context.Context) error {
		return func(context.Context) error { log.add(n); return nil }
	}
	hb, err := Go(b, fn("b1"))
	require.NoError(t, err)
	ha, err := Go(a, fn("a1")) // a's head, later than b1
	require.NoError(t, err)
	require.NoError(t, s.Promote(ha))
	open()
	require.NoError(t, ha.Wait(context.Background()))
	require.NoError(t, hb.Wait(context.Background()))
	require.Equal(t, []string{"a1", "b1"}, log.get(), "a promoted head runs first")
}

// rvClock is a Clock that moves only when the test says so.
type rvClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *rvClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *rvClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
func (c *rvClock) AfterFunc(time.Duration, func()) func() bool { return func() bool { return false } }

// The model of admission: one task a step, the first scope in head order
// whose head fits every cap below the root, and comes before every head
// that does not fit one of them on its path; nothing if that head does
// not fit the root.
type rvTask struct {
	id, scope, prio, w int
	seq, qat, promo    int64
	state              int // 0 queued, 1 running, 2 done
	h                  *lazytask.Task[struct{}]
	gate               chan struct{}
}

type rvScope struct {
	parent int // -1 for the root
	cap    int // 0: unlimited
	inUse  int
	sc     *Scope
	dead   bool
}

type rvModel struct {
	step   int64
	scopes []*rvScope
	tasks  []*rvTask
}

func (m *rvModel) before(a, b *rvTask) bool {
	switch {
	case a.promo > 0 || b.promo > 0:
		if a.promo > 0 && b.promo > 0 {
			return a.promo < b.promo
		}
		return a.promo > 0
	case m.step == 0:
		if a.prio != b.prio {
			return a.prio > b.prio
		}
		return a.seq < b.seq
	}
	if x, y := int64(a.prio)*m.step-a.qat, int64(b.prio)*m.step-b.qat; x != y {
		return x > y
	}
	if a.qat != b.qat {
		return a.qat < b.qat
	}
	return a.seq < b.seq // "FIFO still breaks ties"
}

func (m *rvModel) head(s int) *rvTask {
	var best *rvTask
	for _, t := range m.tasks {
		if t.state == 0 && t.scope == s && (best == nil || m.before(t, best)) {
			best = t
		}
	}
	return best
}

// queuedRunning returns the model's queued and running tasks.
func (m *rvModel) queuedRunning() (queued, running []*rvTask) {
	for _, x := range m.tasks {
		switch x.state {
		case 0:
			queued = append(queued, x)
		case 1:
			running = append(running, x)
		}
	}
	return queued, running
}

func (m *rvModel) fits(s, w int) bool {
	x := m.scopes[s]
	return x.cap == 0 || x.inUse+w <= x.cap
}

// admit runs the model's admissions and returns the tasks it started.
func (m *rvModel) admit() []*rvTask {
	var out []*rvTask
	for {
		var heads []*rvTask
		for i := range m.scopes {
			if h := m.head(i); h != nil {
				heads = append(heads, h)
			}
		}
		slices.SortFunc(heads, func(a, b *rvTask) int {
			if m.before(a, b) {
				return -1
			}
			return 1
		})
		var got *rvTask
		// A head that does not fit a cap below the root holds up the
		// heads after it under that cap (the lowest it does not fit), as
		// one that does not fit the root holds up every head after it.
		blocked := map[int]bool{}
	scan:
		for _, h := range heads {
			for p := h.scope; m.scopes[p].parent >= 0; p = m.scopes[p].parent {
				if !m.fits(p, h.w) || blocked[p] {
					blocked[p] = true
					continue scan
				}
			}
			if m.fits(0, h.w) {
				got = h
			}
			break
		}
		if got == nil {
			return out
		}
		got.state = 1
		for p := got.scope; p >= 0; p = m.scopes[p].parent {
			m.scopes[p].inUse += got.w
		}
		out = append(out, got)
	}
}

// rvCheckIndex checks s's ready and parked heaps and the id table: every
// scope with a queued task is in exactly one heap, at the place the table
// says, under the key of its head; the run is in key order; a scope parked
// at p does not fit p; every id is used once or free once.
func rvCheckIndex(t *testing.T, s *Scheduler, ctx string) {
	t.Helper()
	used := map[int32]*Scope{}
	check := func(h *scopeHeap, name string) {
		for i, e := range h.xs {
			require.GreaterOrEqual(t, e.id, int32(0), "%s: %s heap %d", ctx, name, i)
			require.Equal(t, int32(i), s.hids.pos[e.id], "%s: %s heap %d pos", ctx, name, i)
			sc := s.hids.sc[e.id]
			require.NotNil(t, sc, "%s: %s heap %d", ctx, name, i)
			require.Same(t, h, sc.in, "%s: %s heap %d in", ctx, name, i)
			require.Equal(t, e.id, sc.hid)
			require.Equal(t, sc.key, e.key, "%s: %s heap %d key", ctx, name, i)
			if i > 0 {
				require.False(t, h.before(&e, &h.xs[(i-1)/heapArity]), "%s: %s heap order at %d", ctx, name, i)
			}
			require.Nil(t, used[e.id], "%s: id %d twice", ctx, e.id)
			used[e.id] = sc
		}
		live := 0
		var prev *heapEnt
		for j := range h.rn {
			slot := (h.rhead + j) & (len(h.ring) - 1)
			e := &h.ring[slot]
			if e.id < 0 {
				continue
			}
			live++
			require.Equal(t, runPos(slot), s.hids.pos[e.id], "%s: %s run slot %d pos", ctx, name, slot)
			sc := s.hids.sc[e.id]
			require.NotNil(t, sc)
			require.Same(t, h, sc.in, "%s: %s run slot %d in", ctx, name, slot)
			require.Equal(t, sc.key, e.key, "%s: %s run slot %d key", ctx, name, slot)
			require.False(t, h.before(&heapEnt{key: h.rmax}, e), "%s: %s run entry after rmax", ctx, name)
			if prev != nil {
				require.False(t, h.before(e, prev), "%s: %s run out of order at slot %d", ctx, name, slot)
			}
			prev = e
			require.Nil(t, used[e.id], "%s: id %d twice", ctx, e.id)
			used[e.id] = sc
		}
		require.Equal(t, h.rlive, live, "%s: %s rlive", ctx, name)
	}
	check(&s.ready, "ready")
	var walk func(sc *Scope)
	walk = func(sc *Scope) {
		if sc.parked.len() > 0 {
			check(&sc.parked, sc.name+".parked")
			// The room at sc that scopes woken from here and not yet
			// admitted may take is theirs, as is what scopes under sc
			// woken from a cap below it may take; what is left must not
			// fit the first head parked here (the others wait behind it,
			// or, at a sharer, for a permit).
			room := sc.lim.Limit() - sc.lim.InUse()
			under := func(x *Scope) bool {
				for p := x; p != nil; p = p.parent {
					if p == sc {
						return true
					}
				}
				return false
			}
			for _, x := range used {
				if x.woke != nil && x.in == &s.ready && (x.woke == sc || under(x) && under(x.woke)) {
					room -= core.Weight(x.head)
				}
			}
			for _, x := range used {
				if x.in == &sc.parked && (sc.shared != nil || x == sc.parked.top()) {
					require.Less(t, room, core.Weight(x.head), "%s: %s parked at %s, which has room for it", ctx, x.name, sc.name)
				}
			}
		}
		if sc.q.Len() > 0 {
			require.NotNil(t, sc.in, "%s: %s has queued tasks and is in no heap", ctx, sc.name)
			require.Same(t, sc.peekHead(), sc.head, "%s: %s head", ctx, sc.name)
			require.Equal(t, keyOf(sc.head), sc.key, "%s: %s key", ctx, sc.name)
		} else {
			require.Nil(t, sc.in, "%s: %s is empty and in a heap", ctx, sc.name)
		}
		for c := range sc.children {
			walk(c)
		}
	}
	walk(s.root)
	free := map[int32]bool{}
	for _, id := range s.hids.free {
		require.False(t, free[id], "%s: id %d free twice", ctx, id)
		require.Nil(t, used[id], "%s: id %d free and used", ctx, id)
		require.Nil(t, s.hids.sc[id], "%s: free id %d keeps a scope", ctx, id)
		require.Equal(t, int32(-1), s.hids.pos[id], "%s: free id %d keeps a pos", ctx, id)
		free[id] = true
	}
	require.Equal(t, len(s.hids.sc), len(free)+len(used), "%s: ids lost", ctx)
}

// Admission through the real scheduler against the model, step by step:
// submits (priorities, weights, through the inbox while the root is full),
// task ends, promotes (of heads too), cancels of scopes, cap changes, over
// a tree of nested caps and many plain scopes (so the ready run grows,
// wraps and regrows, and scopes park and unpark at several levels); aging
// off and on (a fake clock). After each step the set of started tasks is
// the model's and the heaps and the id table are consistent.
func TestAdmissionAgainstAModel(t *testing.T) {
	for seed := range uint64(8) {
		for _, step := range []int64{0, 10} {
			rvRunModel(t, seed, step, 250)
		}
	}
}

func rvRunModel(t *testing.T, seed uint64, step int64, ops int) {
	r := rand.New(rand.NewPCG(seed, uint64(step)+99))
	clk := &rvClock{now: time.Unix(1000, 0)}
	opts := []SchedulerOption{WithLimit(3), WithLogger(slog.New(slog.DiscardHandler))}
	if step > 0 {
		opts = append(opts, WithAging(time.Duration(step)), WithClock(clk))
	}
	s, err := New(opts...)
	require.NoError(t, err)
	m := &rvModel{step: step}
	m.scopes = append(m.scopes, &rvScope{parent: -1, cap: 3, sc: s.Root()})
	add := func(parent, cap int) int {
		var o []Option
		if cap > 0 {
			o = append(o, WithLimit(cap))
		}
		sc, err := m.scopes[parent].sc.NewScope(o...)
		require.NoError(t, err)
		m.scopes = append(m.scopes, &rvScope{parent: parent, cap: cap, sc: sc})
		return len(m.scopes) - 1
	}
	a := add(0, 1)
	b := add(0, 2)
	b1, b2 := add(b, 1), add(b, 0)
	c := add(0, 0)
	d := add(0, 2)
	d1, d2, d3 := add(d, 1), add(d, 1), add(d, 0)
	for range 24 {
		add(0, 0)
	}
	heavyOK := map[int]bool{0: true, b2: true, c: true, d3: true}
	for i := d3 + 1; i < len(m.scopes); i++ {
		heavyOK[i] = true
	}
	resizable := []int{0, a, b1, d1, d2}
	started := make(chan int, 1024)
	var seq, promos int64
	ctx := fmt.Sprintf("seed %d step %d", seed, step)

	settle := func(op int, what string, want []*rvTask) {
		t.Helper()
		s.lock() // the inboxes are drained and every admission made
		s.unlock()
		got := map[int]bool{}
		timeout := time.After(5 * time.Second)
		for range want {
			select {
			case id := <-started:
				got[id] = true
			case <-timeout:
				t.Fatalf("%s op %d (%s): a start the model made did not come", ctx, op, what)
			}
		}
		exp := map[int]bool{}
		for _, x := range want {
			exp[x.id] = true
		}
		require.Equal(t, exp, got, "%s op %d (%s): tasks started", ctx, op, what)
		running := 0
		for _, x := range m.tasks {
			if x.state == 1 {
				running++
			}
		}
		func() {
			s.lock()
			defer s.unlock() // a failed check must not keep the lock
			require.Equal(t, running, s.running, "%s op %d (%s): running", ctx, op, what)
			rvCheckIndex(t, s, fmt.Sprintf("%s op %d (%s)", ctx, op, what))
		}()
	}
	defer func() {
		for _, x := range m.tasks {
			if x.state != 2 {
				close(x.gate)
			}
		}
		require.NoError(t, s.Shutdown(context.Background()))
	}()
	submit := func() []*rvTask {
		sci := r.IntN(len(m.scopes))
		if r.IntN(3) == 0 {
			sci = []int{a, b1, b2, d1, d2, d3, c}[r.IntN(7)]
		}
		for m.scopes[sci].dead {
			sci = r.IntN(len(m.scopes))
		}
		x := &rvTask{id: len(m.tasks), scope: sci, w: 1, gate: make(chan struct{})}
		if r.IntN(4) == 0 {
			x.prio = r.IntN(3) - 1
		}
		if heavyOK[sci] && r.IntN(6) == 0 {
			x.w = 2
		}
		if step > 0 {
			clk.add(1) // distinct queued times: ties are another test's
			x.qat = clk.Now().UnixNano()
		}
		seq++
		x.seq = seq
		id, gate := x.id, x.gate
		h, err := Go(m.scopes[sci].sc, func(context.Context) error {
			started <- id
			<-gate
			return nil
		}, lazytask.WithPriority(x.prio), lazytask.WithWeight(x.w))
		require.NoError(t, err)
		x.h = h
		m.tasks = append(m.tasks, x)
		return m.admit()
	}
	for op := range ops {
		if step > 0 {
			clk.add(time.Duration(r.IntN(int(3 * step))))
		}
		queued, running := m.queuedRunning()
		switch k := r.IntN(100); {
		case k < 50 || len(queued)+len(running) == 0:
			// A burst of submits, drained (while the root is full) as one
			// batch of listed scopes.
			// A submit that a lingering goroutine is to admit is admitted
			// when it polls, maybe after the next submit (a better one):
			// the burst stops at the first the model admits.
			var want []*rvTask
			for n := 1 + r.IntN(4); n > 0 && len(want) == 0; n-- {
				want = submit()
			}
			settle(op, "submit", want)
		case k < 82 && len(running) > 0:
			x := running[r.IntN(len(running))]
			close(x.gate)
			err := x.h.Wait(context.Background())
			if !m.scopes[x.scope].dead {
				require.NoError(t, err)
			}
			x.state = 2
			for p := x.scope; p >= 0; p = m.scopes[p].parent {
				m.scopes[p].inUse -= x.w
			}
			settle(op, "end", m.admit())
		case k < 92 && len(queued) > 0:
			x := queued[r.IntN(len(queued))]
			if x.promo > 0 {
				continue // a second promote changes nothing
			}
			require.NoError(t, s.Promote(x.h))
			promos++
			x.promo = promos
			settle(op, "promote", m.admit())
		case k < 95:
			// Cancel a plain scope (its queued tasks end; it is released
			// once its running ones end) and make a new one in its place,
			// which may take the heap ids it gave back.
			sci := d3 + 1 + r.IntN(len(m.scopes)-d3-1)
			if m.scopes[sci].dead {
				continue
			}
			m.scopes[sci].sc.Cancel(errors.New("model"))
			m.scopes[sci].dead = true
			for _, x := range m.tasks {
				if x.scope == sci && x.state == 0 {
					x.state = 2
					require.Error(t, x.h.Wait(context.Background()))
				}
			}
			heavyOK[add(0, 0)] = true
			settle(op, "cancel", m.admit())
		default:
			sci := resizable[r.IntN(len(resizable))]
			n := 1 + r.IntN(2)
			if sci == 0 {
				n = 2 + r.IntN(3)
			}
			require.NoError(t, m.scopes[sci].sc.Resize(n))
			m.scopes[sci].cap = n
			settle(op, fmt.Sprintf("resize %d to %d", sci, n), m.admit())
		}
	}
}

// With aging, tasks queued at the same time (a clock that did not move, or
// a coarse one) are still FIFO across scopes: "FIFO still breaks ties".
func TestAgingTiesAreFIFOAcrossScopes(t *testing.T) {
	clk := &rvClock{now: time.Unix(1000, 0)}
	s, err := New(WithLimit(1), WithAging(time.Second), WithClock(clk))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) }) // after the holders (cleanups run last first)
	scs := make([]*Scope, 10)
	for i := range scs {
		scs[i], err = s.Root().NewScope()
		require.NoError(t, err)
	}
	open := rvHold(t, s)
	r := rand.New(rand.NewPCG(3, 4))
	var log rvLog
	var want []string
	var hs []*lazytask.Task[struct{}]
	for i := range 60 {
		name := fmt.Sprint(i)
		h, err := Go(scs[r.IntN(len(scs))], func(context.Context) error { log.add(name); return nil })
		require.NoError(t, err)
		hs = append(hs, h)
		want = append(want, name)
	}
	open()
	for _, h := range hs {
		require.NoError(t, h.Wait(context.Background()))
	}
	require.Equal(t, want, log.get(), "start order of tasks queued at one time")
}

// A heavy head that does not fit the root holds every scope behind it (so
// that it is not overtaken forever). When its scope is canceled, the tasks
// behind it fit the free slot and must start.
func TestCancelOfAScopeWithAHeavyHeadAdmitsTheTasksBehindIt(t *testing.T) {
	s, err := New(WithLimit(2))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) }) // after the holders (cleanups run last first)
	x, err := s.Root().NewScope()
	require.NoError(t, err)
	y, err := s.Root().NewScope()
	require.NoError(t, err)
	rvHold(t, s) // one slot of two taken
	hx, err := Go(x, func(context.Context) error { return nil }, lazytask.WithWeight(2))
	require.NoError(t, err)
	ran := make(chan struct{})
	hy, err := Go(y, func(context.Context) error { close(ran); return nil })
	require.NoError(t, err)
	x.Cancel(nil)
	require.Error(t, hx.Wait(context.Background()))
	select {
	case <-ran:
	case <-time.After(2 * time.Second):
		t.Fatal("y's task did not start in the free slot after x was canceled")
	}
	require.NoError(t, hy.Wait(context.Background()))
}
