package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A randomized mix of waits from inside tasks (I3, I9, I11), many small
// rounds, each seeded (math/rand/v2) so that a failing round can be
// replayed: HOSTILE_MIX_SEED=<seed> HOSTILE_MIX_ROUNDS=1 runs one round.
// Helpers carry an "hm" prefix.
//
// What is asserted, and why the design implies it:
//
//   - tracked tasks (those running their own code: counted on entry and
//     after each wait, uncounted before each wait and before they return)
//     each hold their slots or run over the cap, counted (I9: a wait's end
//     takes the slot back, or goes on over the cap counted). So, sampled
//     with the tracked set held still (every count change takes hm.mu, and
//     the sample holds it), the tracked weight is at most
//     InUse + OverCapSlots of one Stats read, for the scheduler and for the
//     capped child scope's subtree;
//   - InUse never exceeds the cap in force (I3). After a Resize down, the
//     slots already held stay held (Resize lets running tasks finish), so
//     the bound is max(new cap, InUse read after the Resize), ratcheted
//     down by later reads (InUse can only grow by an admission under the
//     cap). The child scope's cap is never resized: its InUse stays <= it;
//   - after each round, once s.Wait returns: every handle terminal and
//     InUse, OverCap, OverCapSlots, Running, Queued all 0.
//
// No task waits for something that only a task that cannot be admitted
// could cause: blockers (tasks that run until canceled) are only waited
// for with a context that they cut themselves once they run, and are
// canceled after that wait.

const hmDefaultSeed = 0x5eed_1234

type hmWorld struct {
	t     *testing.T
	s     *scheduler.Scheduler
	child *scheduler.Scope
	k     int // the child scope's cap, fixed
	base  int // the root cap at the start

	mu         sync.Mutex
	trackAll   int
	trackChild int
	capNow     int
	ceiling    int
	fails      []string
	handles    []lazytask.Handle
	samples    int
	overSeen   int

	resizeMu sync.Mutex
}

// hmTask is what a task body knows about itself.
type hmTask struct {
	w       int
	inChild bool
}

func (hw *hmWorld) failf(format string, args ...any) {
	hw.fails = append(hw.fails, fmt.Sprintf(format, args...))
}

// sampleLocked checks the counters against the tracked set; hw.mu held.
func (hw *hmWorld) sampleLocked(where string) {
	hw.samples++
	st := hw.s.Stats()
	if st.OverCap > 0 {
		hw.overSeen++
	}
	if st.InUse > hw.ceiling {
		hw.failf("%s: root InUse %d > cap in force %d (cap now %d, OverCap %d/%d slots)", where, st.InUse, hw.ceiling, hw.capNow, st.OverCap, st.OverCapSlots)
	}
	if hw.trackAll > st.InUse+st.OverCapSlots {
		hw.failf("%s: %d slots' worth of tasks run their own code > InUse %d + OverCapSlots %d (OverCap %d, cap now %d, Running %d, Queued %d)",
			where, hw.trackAll, st.InUse, st.OverCapSlots, st.OverCap, hw.capNow, st.Running, st.Queued)
	}
	if c := max(hw.capNow, st.InUse); c < hw.ceiling {
		hw.ceiling = c
	}
	cs := hw.child.Stats()
	if cs.InUse > hw.k {
		hw.failf("%s: child InUse %d > its cap %d", where, cs.InUse, hw.k)
	}
	if hw.trackChild > cs.InUse+cs.OverCapSlots {
		hw.failf("%s: child: %d slots' worth of tasks run their own code > InUse %d + OverCapSlots %d (cap %d)",
			where, hw.trackChild, cs.InUse, cs.OverCapSlots, hw.k)
	}
}

func (hw *hmWorld) enter(tk hmTask, where string) {
	hw.mu.Lock()
	hw.trackAll += tk.w
	if tk.inChild {
		hw.trackChild += tk.w
	}
	hw.sampleLocked(where)
	hw.mu.Unlock()
}

func (hw *hmWorld) leave(tk hmTask, where string) {
	hw.mu.Lock()
	hw.sampleLocked(where)
	hw.trackAll -= tk.w
	if tk.inChild {
		hw.trackChild -= tk.w
	}
	hw.mu.Unlock()
}

// waiting runs a wait made from inside tk, uncounted while it lasts.
func (hw *hmWorld) waiting(tk hmTask, what string, f func()) {
	hw.leave(tk, "before "+what)
	f()
	hw.enter(tk, "after "+what)
}

func (hw *hmWorld) keep(h lazytask.Handle) {
	if h == nil {
		return
	}
	hw.mu.Lock()
	hw.handles = append(hw.handles, h)
	hw.mu.Unlock()
}

func (hw *hmWorld) submitErr(err error, w int) {
	if err == nil {
		return
	}
	if w > 1 && errors.Is(err, scheduler.ErrWeightTooLarge) {
		return // the root cap was lowered below w meanwhile
	}
	hw.mu.Lock()
	hw.failf("submit (weight %d): unexpected error %v", w, err)
	hw.mu.Unlock()
}

// spin yields a few times, so that other goroutines interleave.
func hmSpin(r *rand.Rand) {
	for range r.IntN(3) {
		runtime.Gosched()
	}
}

// leafBody is a task that runs its own code only; it fails if fail.
func (hw *hmWorld) leafBody(tk hmTask, spins int, fail bool) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		hw.enter(tk, "leaf start")
		for range spins {
			runtime.Gosched()
		}
		hw.leave(tk, "leaf end")
		if fail {
			return 0, errors.New("leaf failed")
		}
		return 1, nil
	}
}

// cutterBody cuts a waiter's context once it runs; if block, it then runs
// until its own context ends.
func (hw *hmWorld) cutterBody(tk hmTask, cut context.CancelFunc, block bool) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		hw.enter(tk, "cutter start")
		cut()
		runtime.Gosched()
		hw.leave(tk, "cutter end")
		if block {
			<-ctx.Done()
			return 0, context.Cause(ctx)
		}
		return 2, nil
	}
}

// target is where a task goes: the root or the child scope, with the
// heaviest weight it may take there.
type hmTarget struct {
	sp      scheduler.Spawner
	sc      *scheduler.Scope
	inChild bool
	maxW    int
}

func (hw *hmWorld) pick(r *rand.Rand) hmTarget {
	if r.IntN(2) == 0 {
		return hmTarget{sp: hw.s, sc: hw.s.Root(), maxW: 2}
	}
	return hmTarget{sp: hw.child, sc: hw.child, inChild: true, maxW: min(2, hw.k)}
}

func hmWeight(r *rand.Rand, maxW int) int {
	if maxW >= 2 && r.IntN(2) == 0 {
		return 2
	}
	return 1
}

func (hw *hmWorld) submitLeaf(r *rand.Rand, tg hmTarget, opts ...lazytask.Option) *lazytask.Task[int] {
	w := hmWeight(r, tg.maxW)
	fn := hw.leafBody(hmTask{w: w, inChild: tg.inChild}, r.IntN(3), r.IntN(4) == 0)
	opts = append([]lazytask.Option{lazytask.WithWeight(w), lazytask.WithName("leaf"), lazytask.WithPriority(r.IntN(2))}, opts...)
	h, err := scheduler.Submit(tg.sp, fn, opts...)
	hw.submitErr(err, w)
	hw.keep(h)
	return h
}

func (hw *hmWorld) submitCutter(r *rand.Rand, tg hmTarget, cut context.CancelFunc, block bool) *lazytask.Task[int] {
	w := hmWeight(r, tg.maxW)
	h, err := scheduler.Submit(tg.sp, hw.cutterBody(hmTask{w: w, inChild: tg.inChild}, cut, block), lazytask.WithWeight(w), lazytask.WithName("cutter"))
	hw.submitErr(err, w)
	hw.keep(h)
	return h
}

// await waits for h with ctx from inside tk (nil h: a refused submit).
func (hw *hmWorld) await(tk hmTask, ctx context.Context, h *lazytask.Task[int], what string) {
	if h == nil {
		return
	}
	hw.waiting(tk, what, func() { _, _ = h.Await(ctx) })
}

// parentBody runs ops, each a wait of some kind from inside the task.
func (hw *hmWorld) parentBody(tk hmTask, seed uint64, nops int, depth int) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		r := rand.New(rand.NewPCG(seed, uint64(depth)))
		hw.enter(tk, "parent start")
		for range nops {
			hw.op(tk, ctx, r, depth)
			hmSpin(r)
		}
		hw.leave(tk, "parent end")
		return 0, nil
	}
}

func (hw *hmWorld) submitParent(r *rand.Rand, tg hmTarget, nops, depth int) *lazytask.Task[int] {
	w := hmWeight(r, tg.maxW)
	h, err := scheduler.Submit(tg.sp, hw.parentBody(hmTask{w: w, inChild: tg.inChild}, r.Uint64(), nops, depth), lazytask.WithWeight(w), lazytask.WithName(fmt.Sprintf("parent%d", depth)))
	hw.submitErr(err, w)
	hw.keep(h)
	return h
}

const hmOps = 10

// hmTop bounds the tasks submitted from outside per round, and the ops of a
// top-level parent (HOSTILE_MIX_TOP raises it for a heavier hunt).
var hmTop = int(hmEnvInt("HOSTILE_MIX_TOP", 4))

func (hw *hmWorld) op(tk hmTask, ctx context.Context, r *rand.Rand, depth int) {
	kind := r.IntN(hmOps)
	if kind == 9 && depth > 0 {
		kind = 0
	}
	switch kind {
	case 0: // Await with its own context
		h := hw.submitLeaf(r, hw.pick(r))
		hw.await(tk, ctx, h, "Await(own ctx)")

	case 1: // Await with a derived context that a child cuts
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		block := r.IntN(2) == 0
		var extra *lazytask.Task[int]
		if r.IntN(2) == 0 {
			extra = hw.submitLeaf(r, hw.pick(r))
		}
		c := hw.submitCutter(r, hw.pick(r), cut, block)
		if c == nil {
			hw.await(tk, ctx, extra, "Await(extra)")
			return
		}
		hw.await(tk, wctx, c, "Await(cut ctx)")
		if r.IntN(2) == 0 {
			hmSpin(r) // run a little, maybe over the cap
		}
		c.Cancel(nil)
		hw.await(tk, ctx, c, "Await(canceled cutter)")
		hw.await(tk, ctx, extra, "Await(extra)")

	case 2: // Scope.Wait on a fresh sub-scope, with a derived context
		parent := hw.pick(r)
		var opts []scheduler.Option
		maxW := parent.maxW
		if r.IntN(2) == 0 {
			l := 1 + r.IntN(2)
			opts = append(opts, scheduler.WithLimit(l))
			maxW = min(maxW, l)
		}
		sub, err := parent.sc.NewScope(opts...)
		if err != nil {
			hw.mu.Lock()
			hw.failf("NewScope: %v", err)
			hw.mu.Unlock()
			return
		}
		tg := hmTarget{sp: sub, sc: sub, inChild: parent.inChild, maxW: maxW}
		for range 1 + r.IntN(3) {
			hw.submitLeaf(r, tg)
		}
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		if r.IntN(2) == 0 {
			hw.submitCutter(r, tg, cut, r.IntN(2) == 0)
		}
		hw.waiting(tk, "Scope.Wait(derived ctx)", func() { _ = sub.Wait(wctx) })
		if wctx.Err() != nil {
			sub.Cancel(nil)
			hw.waiting(tk, "Scope.Wait(own ctx)", func() { _ = sub.Wait(ctx) })
		}

	case 3, 4, 5: // the combinators
		tg := hw.pick(r)
		w := hmWeight(r, tg.maxW)
		f := factory.WithOptions(factory.Of(tg.sp), lazytask.WithWeight(w))
		ltk := hmTask{w: w, inChild: tg.inChild}
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		useCut := r.IntN(3) == 0
		n := 1 + r.IntN(3)
		fns := make([]func(context.Context) (int, error), 0, n+1)
		for range n {
			fns = append(fns, hw.leafBody(ltk, r.IntN(3), kind != 4 && r.IntN(4) == 0))
		}
		if useCut {
			fns = append(fns, hw.cutterBody(ltk, cut, true))
		} else {
			wctx = ctx
		}
		switch kind {
		case 3:
			hw.waiting(tk, "Gather", func() { _, _ = factory.Gather(wctx, f, fns...) })
		case 4:
			hw.waiting(tk, "Race", func() { _, _ = factory.Race(wctx, f, fns...) })
		case 5:
			in := make([]int, len(fns))
			for i := range in {
				in[i] = i
			}
			limit := 1 + r.IntN(3)
			if useCut {
				limit = len(fns) // the cutter must be submitted: it is last
			}
			hw.waiting(tk, "Map", func() {
				_, _ = factory.Map(wctx, f, in, limit, func(ctx context.Context, i int) (int, error) { return fns[i](ctx) })
			})
		}

	case 6: // Force of a queued task, Promote, under a lowered cap
		hw.resizeMu.Lock()
		lowered := false
		hw.mu.Lock()
		now := hw.capNow
		hw.mu.Unlock()
		if now > 1 && r.IntN(2) == 0 {
			hw.resizeDown(1 + r.IntN(now-1))
			lowered = true
		}
		var hs []*lazytask.Task[int]
		for range 1 + r.IntN(3) {
			hs = append(hs, hw.submitLeaf(r, hw.pick(r)))
		}
		for _, h := range hs {
			if h == nil || h.State() != lazytask.Queued {
				continue
			}
			switch r.IntN(3) {
			case 0:
				if err := hw.s.Force(h); err != nil && !errors.Is(err, scheduler.ErrNotQueued) {
					hw.mu.Lock()
					hw.failf("Force: %v", err)
					hw.mu.Unlock()
				}
			case 1:
				if err := hw.s.Promote(h); err != nil && !errors.Is(err, scheduler.ErrNotQueued) {
					hw.mu.Lock()
					hw.failf("Promote: %v", err)
					hw.mu.Unlock()
				}
			}
		}
		if lowered {
			hw.resizeUp(hw.base + r.IntN(2))
		}
		hw.resizeMu.Unlock()
		for _, h := range hs {
			hw.await(tk, ctx, h, "Await(forced/promoted)")
		}

	case 7: // Resize down and up, with submits in between
		hw.resizeMu.Lock()
		hw.mu.Lock()
		now := hw.capNow
		hw.mu.Unlock()
		var hs []*lazytask.Task[int]
		if now > 1 {
			hw.resizeDown(1 + r.IntN(now-1))
			for range r.IntN(3) {
				hs = append(hs, hw.submitLeaf(r, hw.pick(r)))
			}
		}
		hw.resizeUp(min(4, max(now, hw.base)+r.IntN(2)))
		hw.resizeMu.Unlock()
		for _, h := range hs {
			hw.await(tk, ctx, h, "Await(after resize)")
		}

	case 8: // Cancel of a child
		var h *lazytask.Task[int]
		if r.IntN(2) == 0 {
			h = hw.submitLeaf(r, hw.pick(r))
		} else {
			tg := hw.pick(r)
			w := hmWeight(r, tg.maxW)
			btk := hmTask{w: w, inChild: tg.inChild}
			var err error
			h, err = scheduler.Submit(tg.sp, func(ctx context.Context) (int, error) {
				hw.enter(btk, "blocker start")
				hw.leave(btk, "blocker end")
				<-ctx.Done()
				return 0, context.Cause(ctx)
			}, lazytask.WithWeight(w), lazytask.WithName("blocker"))
			hw.submitErr(err, w)
			hw.keep(h)
		}
		if h == nil {
			return
		}
		if r.IntN(2) == 0 {
			hmSpin(r)
		}
		h.Cancel(nil)
		hw.await(tk, ctx, h, "Await(canceled child)")

	case 9: // a nested parent, awaited with its own context
		h := hw.submitParent(r, hw.pick(r), 1+r.IntN(2), depth+1)
		hw.await(tk, ctx, h, "Await(nested parent)")
	}
}

// resizeDown lowers the root cap to n; hw.resizeMu held.
func (hw *hmWorld) resizeDown(n int) {
	if err := hw.s.Resize(n); err != nil {
		hw.mu.Lock()
		hw.failf("Resize(%d): %v", n, err)
		hw.mu.Unlock()
		return
	}
	hw.mu.Lock()
	hw.capNow = n
	hw.sampleLocked("after Resize down") // ratchets the ceiling down
	hw.mu.Unlock()
}

// resizeUp raises the root cap to n; hw.resizeMu held.
func (hw *hmWorld) resizeUp(n int) {
	hw.mu.Lock()
	hw.capNow = n
	hw.ceiling = max(hw.ceiling, n)
	hw.mu.Unlock()
	if err := hw.s.Resize(n); err != nil {
		hw.mu.Lock()
		hw.failf("Resize(%d): %v", n, err)
		hw.mu.Unlock()
	}
}

// hmRound runs one round; it returns what failed, or nil.
func hmRound(t *testing.T, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 0x6d6978))
	base := 1 + r.IntN(3)
	s, err := scheduler.New(scheduler.WithLimit(base), scheduler.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return []string{fmt.Sprintf("scheduler.New: %v", err)}
	}
	k := 1 + r.IntN(2)
	child, err := s.Root().NewScope(scheduler.WithLimit(k), scheduler.WithName("child"))
	if err != nil {
		return []string{fmt.Sprintf("NewScope: %v", err)}
	}
	hw := &hmWorld{t: t, s: s, child: child, k: k, base: base, capNow: base, ceiling: base}

	for range 1 + r.IntN(hmTop) {
		if r.IntN(4) == 0 {
			hw.submitLeaf(r, hw.pick(r), lazytask.WithPriority(r.IntN(3)))
		} else {
			hw.submitParent(r, hw.pick(r), 1+r.IntN(hmTop-1), 0)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), cpHang)
	werr := s.Wait(ctx)
	cancel()
	var fails []string
	if werr != nil {
		fails = append(fails, fmt.Sprintf("s.Wait = %v after %v (Stats %+v); want everything ended", werr, cpHang, s.Stats()))
		hw.mu.Lock()
		for _, h := range hw.handles {
			if !h.State().Terminal() {
				fails = append(fails, fmt.Sprintf("  %s: %v", h.Name(), h.State()))
			}
		}
		hw.mu.Unlock()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = s.Shutdown(ctx)
	} else {
		st := s.Stats()
		if st.InUse != 0 || st.OverCap != 0 || st.OverCapSlots != 0 || st.Running != 0 || st.Queued != 0 {
			fails = append(fails, fmt.Sprintf("after s.Wait: InUse %d, OverCap %d (%d slots), Running %d, Queued %d; want all 0",
				st.InUse, st.OverCap, st.OverCapSlots, st.Running, st.Queued))
		}
		hw.mu.Lock()
		for _, h := range hw.handles {
			if !h.State().Terminal() {
				fails = append(fails, fmt.Sprintf("after s.Wait: %s is %v; want terminal", h.Name(), h.State()))
			}
		}
		hw.mu.Unlock()
		if err := s.Shutdown(context.Background()); err != nil {
			fails = append(fails, fmt.Sprintf("Shutdown: %v", err))
		}
	}
	hw.mu.Lock()
	fails = append(hw.fails, fails...)
	hmSamples += hw.samples
	hmOverSeen += hw.overSeen
	hw.mu.Unlock()
	return fails
}

// hmSamples and hmOverSeen count, over the rounds of one test, the samples
// taken and those that saw a task over the cap (logged: the mix must reach
// the runs over the cap for its checks to mean anything).
var hmSamples, hmOverSeen int

func hmEnvInt(name string, def uint64) uint64 {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.ParseUint(v, 0, 64)
		if err == nil {
			return n
		}
	}
	return def
}

func TestHostileMix(t *testing.T) {
	seed := hmEnvInt("HOSTILE_MIX_SEED", hmDefaultSeed)
	rounds := hmEnvInt("HOSTILE_MIX_ROUNDS", 600)
	deadline := time.Now().Add(45 * time.Second) // a runaway guard, not synchronisation
	failed := 0
	for i := range rounds {
		rs := seed + i
		fails := hmRound(t, rs)
		if len(fails) > 0 {
			failed++
			if len(fails) > 8 {
				fails = append(fails[:8], fmt.Sprintf("... and %d more", len(fails)-8))
			}
			t.Errorf("round seed %#x (HOSTILE_MIX_SEED=%d HOSTILE_MIX_ROUNDS=1):\n  %s", rs, rs, strings.Join(fails, "\n  "))
			if failed >= 5 {
				t.Fatalf("stopping after %d failing rounds", failed)
			}
		}
		if time.Now().After(deadline) {
			t.Logf("stopped after %d rounds (time guard)", i+1)
			break
		}
	}
	t.Logf("%d rounds from seed %#x: %d samples, %d of them with a task over the cap", rounds, seed, hmSamples, hmOverSeen)
}
