package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// htLimit wraps a limiter.Local: it answers every grant on a goroutine of
// its own (as a fleet's limit answers from its pub/sub reader), counts the
// weight of the permits out, and checks that no permit is released twice
// and that a grant after a cancel is released by the scheduler.
type htLimit struct {
	l     *limiter.Local
	limit int64
	out   atomic.Int64 // weight of granted permits not released
	peak  atomic.Int64
	wg    sync.WaitGroup
	bad   atomic.Value // string: a broken promise
	async bool
}

type htPermit struct {
	p        limiter.Permit
	w        int64
	h        *htLimit
	released atomic.Bool
}

func (p *htPermit) Release() {
	if !p.released.CompareAndSwap(false, true) {
		return // a second call does nothing (the contract)
	}
	if p.h.out.Add(-p.w) < 0 {
		p.h.bad.Store("more permit weight released than granted")
	}
	p.p.Release()
}

func (h *htLimit) Acquire(req limiter.Request) func() {
	inner := req
	inner.Granted = func(p limiter.Permit, err error) {
		if p != nil {
			n := h.out.Add(req.Weight)
			for {
				pk := h.peak.Load()
				if n <= pk || h.peak.CompareAndSwap(pk, n) {
					break
				}
			}
			if n > h.limit {
				h.bad.Store(fmt.Sprintf("%d permit slots out over the limit %d", n, h.limit))
			}
			p = &htPermit{p: p, w: req.Weight, h: h}
		}
		if !h.async {
			req.Granted(p, err)
			return
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			req.Granted(p, err)
		}()
	}
	return h.l.Acquire(inner)
}

// htSlots counts, for one level, the weight of the tasks whose functions
// run there and that hold slots (not force-run, not waiting from inside),
// and remembers the most it saw.
type htSlots struct {
	cur, peak atomic.Int64
}

func (c *htSlots) enter(w int64) int64 {
	n := c.cur.Add(w)
	for {
		pk := c.peak.Load()
		if n <= pk || c.peak.CompareAndSwap(pk, n) {
			return n
		}
	}
}

func (c *htSlots) leave(w int64) { c.cur.Add(-w) }

// A random mix on a shared limit over scopes at several levels, with
// weights, priorities, force-runs, promotes, cancels, Resizes of the caps,
// tasks that await tasks of a scope outside the shared limit (lending
// their local slots at a small root cap), a child scope canceled mid-way
// and a Shutdown with a short grace. No level's cap is exceeded by tasks
// that hold slots (the leaf whose tasks never wait from inside is checked
// against its own cap; the shared subtree against the permits out), every
// permit comes back, every task ends once, and Stats add up.
func TestHostileHTSharedMixHoldsEveryCap(t *testing.T) {
	for round := range 40 {
		t.Run(fmt.Sprint(round), func(t *testing.T) { htSharedMixRound(t, round) })
	}
}

func htSharedMixRound(t *testing.T, round int) {
	rng := rand.New(rand.NewPCG(uint64(round), 7))
	const sharedCap = 3
	loc, err := limiter.NewLocal(sharedCap)
	require.NoError(t, err)
	lim := &htLimit{l: loc, limit: sharedCap, async: round%2 == 1}
	s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithLogger(quietLogger))
	require.NoError(t, err)

	// root(4) ─┬─ top(shared 3) ─┬─ a(cap 2, never waits: its cap is checked)
	//          │                 ├─ b(cap 2) ── bb(cap 1)
	//          │                 └─ c (no cap; canceled mid-way in some rounds)
	//          └─ out(cap 2): the tasks the shared ones wait for
	top, err := s.Root().NewScope(scheduler.WithName("top"), scheduler.WithSharedLimit(lim))
	require.NoError(t, err)
	a, err := top.NewScope(scheduler.WithName("a"), scheduler.WithLimit(2))
	require.NoError(t, err)
	b, err := top.NewScope(scheduler.WithName("b"), scheduler.WithLimit(2))
	require.NoError(t, err)
	bb, err := b.NewScope(scheduler.WithName("bb"), scheduler.WithLimit(1))
	require.NoError(t, err)
	c, err := top.NewScope(scheduler.WithName("c"))
	require.NoError(t, err)
	out, err := s.Root().NewScope(scheduler.WithName("out"), scheduler.WithLimit(2))
	require.NoError(t, err)

	var inA, inShared htSlots
	var forced sync.Map // *lazytask.Task[int] -> true: may run without slots or permit
	var handles []*lazytask.Task[int]
	var hmu sync.Mutex
	var bad atomic.Value
	ran := sync.Map{}

	add := func(h *lazytask.Task[int]) {
		hmu.Lock()
		handles = append(handles, h)
		hmu.Unlock()
	}
	scopes := []*scheduler.Scope{a, b, bb, c}
	var self sync.Map // task id -> handle, so a body can know itself
	for i := range 80 {
		sc := scopes[rng.IntN(len(scopes))]
		w := 1 + rng.IntN(2)
		if sc == bb {
			w = 1
		}
		prio := rng.IntN(3)
		waits := sc != a && rng.IntN(3) == 0
		id := i
		body := func(ctx context.Context) (int, error) {
			if _, dup := ran.LoadOrStore(id, true); dup {
				bad.Store(fmt.Sprintf("task %d ran twice", id))
			}
			hv, _ := self.Load(id)
			h, _ := hv.(*lazytask.Task[int])
			_, isForced := forced.Load(h)
			ww := int64(w)
			if !isForced {
				if n := inShared.enter(ww); n > lim.out.Load() {
					bad.Store(fmt.Sprintf("task %d: %d shared slots run, %d permit slots out", id, n, lim.out.Load()))
				}
				if sc == a {
					// a's cap moves between 1 and 3; lowering it lets
					// running tasks finish, so 3 is the bound at all times.
					if n := inA.enter(ww); n > 3 {
						bad.Store(fmt.Sprintf("task %d: %d slots run in a, cap at most 3", id, n))
					}
				}
			}
			defer func() {
				if !isForced {
					inShared.leave(ww)
					if sc == a {
						inA.leave(ww)
					}
				}
			}()
			if id%4 == 0 {
				time.Sleep(30 * time.Microsecond) // jitter, not a synchronisation
			}
			if waits {
				inner, err := scheduler.Submit(out, func(ctx context.Context) (int, error) { return id, nil },
					lazytask.WithWeight(1+id%2))
				if err == nil {
					_, _ = inner.Await(ctx)
				}
			}
			return id, nil
		}
		var h *lazytask.Task[int]
		if rng.IntN(10) == 0 {
			h = scheduler.NewTask(sc, body, lazytask.WithWeight(w), lazytask.WithPriority(prio))
			self.Store(id, h)
			add(h)
			if rng.IntN(2) == 0 {
				forced.Store(h, true)
				_ = h.Start()
			}
		} else {
			h, err = scheduler.Submit(sc, body, lazytask.WithWeight(w), lazytask.WithPriority(prio))
			self.Store(id, h)
			if err != nil {
				require.True(t, errors.Is(err, scheduler.ErrScopeCanceled) || errors.Is(err, scheduler.ErrWeightTooLarge), "%v", err)
			}
			add(h)
		}
		hmu.Lock()
		pick := handles[rng.IntN(len(handles))]
		hmu.Unlock()
		switch rng.IntN(12) {
		case 0, 1:
			forced.Store(pick, true)
			_ = s.Force(pick)
		case 2, 3:
			_ = s.Promote(pick)
		case 4:
			pick.Cancel(nil)
		case 5:
			_ = a.Resize(1 + rng.IntN(3))
		case 6:
			_ = b.Resize(1 + rng.IntN(2))
		case 7:
			if round%3 == 0 && i > 40 {
				c.Cancel(errors.New("c goes"))
			}
		}
	}
	ctx, cancel := context.WithTimeout(bg, 20*time.Second)
	defer cancel()
	grace, gcancel := context.WithTimeout(ctx, time.Duration(rng.IntN(3))*time.Millisecond)
	defer gcancel()
	down := make(chan struct{})
	go func() {
		defer close(down)
		if round%4 == 2 {
			// The shared subtree first, while out's tasks go on.
			_ = top.Shutdown(grace)
			if st := top.Stats(); st.Queued+st.Running != 0 {
				bad.Store(fmt.Sprintf("top shut down with tasks left: %+v", st))
			}
		}
		_ = s.Shutdown(grace) // past its grace it cancels what is left and waits for it
	}()
	select {
	case <-down:
	case <-ctx.Done():
		t.Fatalf("a Shutdown that hangs: %+v", s.Stats())
	}
	lim.wg.Wait()
	for _, h := range handles {
		if h == nil {
			continue
		}
		select {
		case <-h.Done():
		default:
			t.Fatalf("task %q not done after Shutdown: %v", h.Name(), h.State())
		}
	}
	if v := bad.Load(); v != nil {
		t.Fatal(v)
	}
	if v := lim.bad.Load(); v != nil {
		t.Fatal(v)
	}
	t.Logf("peaks: shared %d (permits %d), a %d", inShared.peak.Load(), lim.peak.Load(), inA.peak.Load())
	require.Zero(t, lim.out.Load(), "permit slots out after Shutdown")
	require.Zero(t, loc.InUse(), "Local slots in use after Shutdown")
	require.Zero(t, loc.Waiting(), "Local requests waiting after Shutdown")
	for _, sc := range []*scheduler.Scope{s.Root(), top, a, b, bb, c, out} {
		st := sc.Stats()
		require.Zero(t, st.Queued+st.Running+st.OverCap+st.InUse, "%s: %+v", sc.Name(), st)
		require.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected+uint64(st.Lazy), "%s: %+v", sc.Name(), st)
	}
}
