package factory_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// ilScope is a scope of the tree, as the model knows it.
type ilScope struct {
	sc     *scheduler.Scope
	parent *ilScope
	cap    int
	name   string
}

// ilModel is one tree's run: the tasks, where each one steps, and what
// their callbacks saw. Fields below mu are under it.
type ilModel struct {
	t      *testing.T
	mu     sync.Mutex
	rng    *rand.Rand
	s      *scheduler.Scheduler
	scopes []*ilScope
	steps  map[int]chan struct{}
	where  map[int]*ilScope
	handle map[int]lazytask.Handle
	how    map[int]string
	nextID int
	cbs    map[int]int
	tasks  []*lazytask.Task[int]
	ids    []int
	free   []*lazytask.Task[int] // independent tasks: wait for nothing
	chaos  bool
	over   int
	ran    map[int]int
	owns   []*ilScope
}

// step parks the task id, running in sc, until the driver releases it.
func (m *ilModel) step(id int, sc *ilScope, h lazytask.Handle) {
	ch := make(chan struct{})
	m.mu.Lock()
	if _, ok := m.where[id]; !ok {
		m.ran[id]++
	}
	m.steps[id] = ch
	m.where[id] = sc
	m.handle[id] = h
	m.mu.Unlock()
	<-ch
}

func (m *ilModel) rand(n int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rng.IntN(n)
}

// errf reports an error a task saw; with chaos (cancels, shutdowns) they
// are expected.
func (m *ilModel) errf(format string, args ...any) {
	if !m.chaos {
		m.t.Errorf(format, args...)
	}
}

func (m *ilModel) pickScope() *ilScope { return m.scopes[m.rand(len(m.scopes))] }

func (m *ilModel) leaf(id int, sc *ilScope) func(ctx context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		m.step(id, sc, lazytask.HandleOf(ctx))
		m.leave(id)
		return id, nil
	}
}

func (m *ilModel) leave(id int) {
	m.mu.Lock()
	delete(m.where, id)
	m.mu.Unlock()
}

// body is a task that steps, makes children waited for in one of the
// ways (mode), steps again, waits, and steps once more.
func (m *ilModel) body(id int, sc *ilScope, depth int) func(ctx context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		h := lazytask.HandleOf(ctx)
		m.step(id, sc, h)
		defer m.leave(id)
		if depth >= ilDepth {
			return id, nil
		}
		n := m.rand(ilKids)
		mode := m.rand(9)
		gsc := m.pickScope()
		var kids []*lazytask.Task[int]
		var fns []func(context.Context) (int, error)
		mk := func(csc *ilScope) (int, func(context.Context) (int, error)) {
			cid := m.newID()
			m.setHow(cid, fmt.Sprintf("child of %d mode %d", id, mode))
			return cid, m.body(cid, csc, depth+1)
		}
		switch mode {
		case 0, 1, 5: // submit / lazy+enqueue / New+enqueue, then Await or Completed
			for range n {
				csc := m.pickScope()
				cid, fn0 := mk(csc)
				fn := fn0
				if len(kids) > 0 && m.rand(2) == 0 {
					prev := kids[len(kids)-1] // a sibling awaits the one before it
					fn = func(ctx context.Context) (int, error) {
						if _, err := prev.Await(ctx); err != nil {
							m.errf("sibling await: %v", err)
						}
						return fn0(ctx)
					}
				}
				var k *lazytask.Task[int]
				switch m.rand(3) {
				case 0:
					k, _ = scheduler.Submit(csc.sc, fn)
				case 1:
					k = scheduler.NewTask(csc.sc, fn)
					if err := csc.sc.Enqueue(k); err != nil {
						m.errf("enqueue: %v", err)
					}
				case 2:
					k = lazytask.New(fn)
					if err := csc.sc.Enqueue(k); err != nil {
						m.errf("enqueue: %v", err)
						k.Cancel(err) // a refused unbound task stays Lazy (documented)
					}
				}
				m.track(cid, k)
				kids = append(kids, k)
			}
		case 6: // a scope of its own, waited for, then shut down
			c := m.rand(3)
			opts := []scheduler.Option{scheduler.WithName(fmt.Sprintf("own%d", id))}
			if c > 0 {
				opts = append(opts, scheduler.WithLimit(c))
			}
			csc, err := gsc.sc.NewScope(opts...)
			if err != nil {
				m.errf("newscope: %v", err)
				return id, nil
			}
			own := &ilScope{sc: csc, parent: gsc, cap: c, name: fmt.Sprintf("own%d", id)}
			m.mu.Lock()
			m.owns = append(m.owns, own)
			m.mu.Unlock()
			for range n {
				cid, fn := mk(own)
				k, _ := scheduler.Submit(csc, fn)
				m.track(cid, k)
			}
			m.step(id, sc, h)
			if err := csc.Wait(ctx); err != nil {
				m.errf("scope wait: %v", err)
			}
			if err := csc.Shutdown(ctx); err != nil {
				m.errf("scope shutdown: %v", err)
			}
			m.step(id, sc, h)
			return id, nil
		default:
			for range n {
				cid, fn := mk(gsc)
				if mode == 8 {
					fn = m.leaf(cid, gsc)
				}
				fns = append(fns, fn)
			}
		}
		m.step(id, sc, h)
		switch mode {
		case 0, 1:
			for _, k := range kids {
				if _, err := k.Await(ctx); err != nil {
					m.errf("await: %v", err)
				}
			}
		case 5:
			for k := range factory.Completed(ctx, kids...) {
				if err := k.Err(); err != nil {
					m.errf("completed: %v", err)
				}
			}
		case 2:
			if _, err := factory.Gather(ctx, factory.Of(gsc.sc), fns...); err != nil {
				m.errf("gather: %v", err)
			}
		case 3:
			g, gctx := errgroup.In(ctx, gsc.sc)
			if l := m.rand(3); l > 0 {
				g.SetLimit(l)
			}
			for range fns {
				_, fn := mk(gsc)
				g.Go(func() error { _, err := fn(gctx); return err })
			}
			if err := g.Wait(); err != nil {
				m.errf("errgroup: %v", err)
			}
		case 4:
			for _, r := range factory.AsCompleted(ctx, factory.Of(gsc.sc), fns...) {
				if r.Err != nil {
					m.errf("ascompleted: %v", r.Err)
				}
			}
		case 7:
			idx := make([]int, len(fns))
			if _, err := factory.Map(ctx, factory.Of(gsc.sc), idx, 1+m.rand(2), func(ctx context.Context, i int) (int, error) {
				_, fn := mk(gsc)
				return fn(ctx)
			}); err != nil {
				m.errf("map: %v", err)
			}
		case 8:
			if len(fns) > 0 {
				if _, err := factory.Race(ctx, factory.Of(gsc.sc), fns...); err != nil && !errors.Is(err, factory.ErrNotNeeded) {
					m.errf("race: %v", err)
				}
			}
		}
		m.step(id, sc, h)
		return id, nil
	}
}

func (m *ilModel) newID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextID++
	return m.nextID
}

func (m *ilModel) setHow(id int, how string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.how[id] = how
}

// track counts k's callbacks and adds one that does something re-entrant.
func (m *ilModel) track(id int, k *lazytask.Task[int]) {
	m.mu.Lock()
	m.tasks = append(m.tasks, k)
	m.ids = append(m.ids, id)
	act := m.rng.IntN(8)
	var other *lazytask.Task[int]
	if len(m.free) > 0 {
		other = m.free[m.rng.IntN(len(m.free))]
	}
	var victim *lazytask.Task[int]
	if len(m.tasks) > 0 {
		victim = m.tasks[m.rng.IntN(len(m.tasks))]
	}
	m.mu.Unlock()
	k.OnDone(func(int, error) {
		m.mu.Lock()
		m.cbs[id]++
		m.mu.Unlock()
		switch act {
		case 0: // await an independent task
			if other != nil {
				_, _ = other.Await(context.Background())
			}
		case 1: // submit an independent task and await it
			sc := m.pickScope()
			fid := m.newID()
			f, _ := scheduler.Submit(sc.sc, m.leaf(fid, sc))
			m.track2(fid, f)
			_, _ = f.Await(context.Background())
		case 2:
			if m.chaos && victim != nil {
				victim.Cancel(errors.New("chaos"))
			}
		case 3:
			if m.chaos && victim != nil {
				_ = m.s.Force(victim)
			}
		case 4:
			if victim != nil {
				_ = m.s.Promote(victim)
			}
		case 5: // attach another callback from inside
			k.OnDone(func(int, error) {
				m.mu.Lock()
				m.cbs[-id]++
				m.mu.Unlock()
			})
		}
	})
}

// track2 tracks a task with a plain counting callback.
func (m *ilModel) track2(id int, k *lazytask.Task[int]) {
	m.mu.Lock()
	m.tasks = append(m.tasks, k)
	m.ids = append(m.ids, id)
	m.mu.Unlock()
	k.OnDone(func(int, error) {
		m.mu.Lock()
		m.cbs[id]++
		m.mu.Unlock()
	})
}

// check holds every capped scope to its cap: the tasks parked at a step
// in its subtree (running their own code) are at most its cap plus the
// over-cap tasks there.
func (m *ilModel) check() {
	m.mu.Lock()
	defer m.mu.Unlock()
	snap := m.s.Snapshot()
	for _, sc := range m.allScopes() {
		if sc.cap == 0 {
			continue
		}
		n, over := 0, 0
		snapOver := overIn(findSnap(snap, sc.sc.Name()))
		var who []string
		for id, w := range m.where {
			if _, at := m.steps[id]; !at {
				continue
			}
			for p := w; p != nil; p = p.parent {
				if p == sc {
					n++
					oc := false
					if h := m.handle[id]; h != nil && h.Info().OverCap {
						over++
						oc = true
					}
					who = append(who, fmt.Sprintf("%d@%s(%s,over=%v)", id, w.name, m.how[id], oc))
					break
				}
			}
		}
		if over > 0 {
			m.over++
		}
		if n > sc.cap+max(over, snapOver) {
			m.t.Errorf("scope %s cap %d: %d at steps, %d overcap: %v\n%s", sc.name, sc.cap, n, over, who, dumpSnap(m.s.Snapshot(), ""))
		}
	}
}

func (m *ilModel) allScopes() []*ilScope {
	seen := map[*ilScope]bool{}
	var out []*ilScope
	for _, w := range m.where {
		for p := w; p != nil; p = p.parent {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// ilRun runs the tree of seed in a bubble; see
// TestHostileInterleavedNestedWaitsKeepEveryInvariant.
func ilRun(t *testing.T, seed uint64) {
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e37))
		rootCap := 1 + rng.IntN(2)
		s, err := scheduler.New(scheduler.WithLimit(rootCap), scheduler.WithLogger(quietLogger))
		if err != nil {
			t.Fatal(err)
		}
		m := &ilModel{t: t, rng: rng, s: s, steps: map[int]chan struct{}{}, where: map[int]*ilScope{}, handle: map[int]lazytask.Handle{}, cbs: map[int]int{}, how: map[int]string{}, ran: map[int]int{}}
		m.chaos = rng.IntN(2) == 0
		root := &ilScope{sc: s.Root(), cap: rootCap, name: "root"}
		m.scopes = append(m.scopes, root)
		for i := range 4 {
			p := m.scopes[rng.IntN(len(m.scopes))]
			c := rng.IntN(3)
			opts := []scheduler.Option{scheduler.WithName("s" + strconv.Itoa(i))}
			if c > 0 {
				opts = append(opts, scheduler.WithLimit(c))
			}
			sc, err := p.sc.NewScope(opts...)
			if err != nil {
				t.Fatal(err)
			}
			m.scopes = append(m.scopes, &ilScope{sc: sc, parent: p, cap: c, name: "s" + strconv.Itoa(i)})
		}
		for range 1 + rng.IntN(2) {
			sc := m.scopes[rng.IntN(len(m.scopes))]
			id := m.newID()
			m.setHow(id, "free")
			k, _ := scheduler.Submit(sc.sc, m.leaf(id, sc))
			m.track2(id, k)
			m.free = append(m.free, k)
		}
		for range 1 + rng.IntN(3) {
			sc := m.scopes[rng.IntN(len(m.scopes))]
			id := m.newID()
			k, _ := scheduler.Submit(sc.sc, m.body(id, sc, 0))
			m.track(id, k)
		}
		shutAt, graceAt := -1, -1
		var cancelAt []int
		var shutSc *ilScope
		if m.chaos {
			shutAt = rng.IntN(30)
			graceAt = shutAt + rng.IntN(30)
			for range rng.IntN(3) {
				cancelAt = append(cancelAt, rng.IntN(40))
			}
			shutSc = m.scopes[rng.IntN(len(m.scopes))]
		}
		graceCtx, endGrace := context.WithCancel(context.Background())
		defer endGrace()
		shutDone := make(chan error, 1)
		shutStarted := false
		for iter := 0; ; iter++ {
			synctest.Wait()
			m.check()
			if iter == shutAt {
				shutStarted = true
				go func() { shutDone <- shutSc.sc.Shutdown(graceCtx) }()
				synctest.Wait()
			}
			if iter%7 == 3 && m.chaos {
				sc := m.scopes[m.rand(len(m.scopes))]
				if sc.cap > 0 && sc.cap < 3 {
					if err := sc.sc.Resize(sc.cap + 1); err == nil {
						m.mu.Lock()
						sc.cap++
						m.mu.Unlock()
					}
					synctest.Wait()
				}
			}
			if iter == graceAt {
				endGrace()
				synctest.Wait()
			}
			for _, c := range cancelAt {
				if c == iter {
					sc := m.scopes[m.rand(len(m.scopes))].sc
					go sc.Cancel(errors.New("chaos scope cancel"))
					synctest.Wait()
				}
			}
			m.mu.Lock()
			if len(m.steps) == 0 {
				m.mu.Unlock()
				break
			}
			ids := slices.Sorted(func(yield func(int) bool) {
				for id := range m.steps {
					if !yield(id) {
						return
					}
				}
			})
			id := ids[m.rng.IntN(len(ids))]
			ch := m.steps[id]
			delete(m.steps, id)
			m.mu.Unlock()
			close(ch)
		}
		m.mu.Lock()
		var stuck []string
		for i, k := range m.tasks {
			if !k.State().Terminal() {
				stuck = append(stuck, fmt.Sprintf("task %d (%s) %v over=%v", m.ids[i], m.how[m.ids[i]], k.State(), k.Info().OverCap))
			} else if r := m.ran[m.ids[i]]; r > 1 || (r == 0 && k.State() == lazytask.Succeeded) || (r == 0 && k.State() == lazytask.Failed && !k.Info().Rejected) {
				t.Errorf("task %d (%s): ran %d times, ended %v %v", m.ids[i], m.how[m.ids[i]], r, k.State(), k.Err())
			} else if m.cbs[m.ids[i]] != 1 {
				t.Errorf("task %d: %d callbacks", m.ids[i], m.cbs[m.ids[i]])
			}
		}
		for id, n := range m.cbs {
			if id < 0 && n != 1 {
				t.Errorf("task %d: nested callback ran %d times", -id, n)
			}
		}
		m.mu.Unlock()
		if len(stuck) > 0 {
			t.Errorf("seed %d chaos=%v rootcap %d: deadlock: %v; stats %+v", seed, m.chaos, rootCap, stuck, s.Stats())
			for _, sc := range m.scopes {
				t.Logf("scope %s cap %d parent %v", sc.name, sc.cap, sc.parent != nil)
			}
			t.Log(dumpSnap(s.Snapshot(), ""))
			for _, o := range m.owns {
				t.Logf("own %s (parent %s): stats %+v\n%s", o.name, o.parent.name, o.sc.Stats(), dumpSnap(o.sc.Snapshot(), "  "))
			}
			s.Root().Cancel(nil)
		}
		if shutStarted {
			endGrace()
			<-shutDone
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = s.Shutdown(ctx)
		if st := s.Stats(); st.Running != 0 || st.Queued != 0 || st.InUse != 0 || st.OverCap != 0 || st.Lazy != 0 ||
			st.Created != st.Succeeded+st.Failed+st.Canceled+st.Rejected {
			t.Errorf("after shutdown: %+v", st)
		}
	})
}

// ilDepth and ilKids bound the random task trees: how deep a task's
// children nest, and how many children a task makes (fewer than ilKids).
const ilDepth, ilKids = 4, 4

// TestHostileInterleavedNestedWaitsKeepEveryInvariant runs random trees of
// tasks on a scheduler of cap 1 or 2 with a few nested scopes of their own
// caps, under a driver that lets one task step at a time (a testing/synctest
// bubble: the driver waits until every goroutine has settled, checks, and
// releases one task chosen at random). Each task waits for its children in
// one of the ways a task may wait from inside: Await, Completed, Gather,
// AsCompleted, Map, Race, errgroup.In's Wait (with or without a limit; its
// functions wait in turn with the group's context), or a scope of its own
// that it waits for and shuts down; a child may first await its elder
// sibling. Done callbacks await other tasks, submit and await one,
// register more callbacks, promote, force-run or cancel tasks; in half the
// trees a scope is shut down with a grace period that may end, scopes are
// canceled and caps raised. It checks, at every step, that no scope's cap is exceeded
// by the tasks running their own code but by the over-cap ones it counts,
// and at the end that nothing hangs, every task ended once, ran at most
// once (and ran if it succeeded), its callbacks ran once, and no slot is
// left taken. LAZYSCHED_INTERLEAVE_SEEDS (default 500) and
// LAZYSCHED_INTERLEAVE_SEED (the first, default 1) choose the trees.
//
// It found the hang fixed with
// TestHostileOverCapFunctionStillLendsItsSlotForItsNextWait (seed 413).
func TestHostileInterleavedNestedWaitsKeepEveryInvariant(t *testing.T) {
	n, base := 500, 1
	if v, err := strconv.Atoi(os.Getenv("LAZYSCHED_INTERLEAVE_SEEDS")); err == nil {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("LAZYSCHED_INTERLEAVE_SEED")); err == nil {
		base = v
	}
	for i := range n {
		seed := uint64(base + i)
		if !t.Run(strconv.Itoa(int(seed)), func(t *testing.T) { ilRun(t, seed) }) {
			break
		}
	}
}

func dumpSnap(sn scheduler.ScopeSnapshot, ind string) string {
	out := fmt.Sprintf("%s%s limit=%d inuse=%d q=%d r=%d closed=%v canceled=%v\n", ind, sn.Name, sn.Limit, sn.InUse, sn.Queued, sn.Running, sn.Closed, sn.Canceled)
	for _, t := range sn.Tasks {
		out += fmt.Sprintf("%s  task %s %v over=%v\n", ind, t.Name, t.State, t.OverCap)
	}
	for _, c := range sn.Children {
		out += dumpSnap(c, ind+"  ")
	}
	return out
}

func findSnap(sn scheduler.ScopeSnapshot, name string) *scheduler.ScopeSnapshot {
	if sn.Name == name {
		return &sn
	}
	for _, c := range sn.Children {
		if f := findSnap(c, name); f != nil {
			return f
		}
	}
	return nil
}

func overIn(sn *scheduler.ScopeSnapshot) int {
	if sn == nil {
		return 0
	}
	n := 0
	for _, t := range sn.Tasks {
		if t.OverCap {
			n++
		}
	}
	for _, c := range sn.Children {
		n += overIn(&c)
	}
	return n
}
