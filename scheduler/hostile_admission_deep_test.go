package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

// Admission against the model of admission_model_test.go (rvModel), on
// angles that test leaves out: caps three levels deep, priorities at the
// ends of the int32 range (aging on and off, a benbjohnson mock clock),
// weights up to 3 (refused at submit when above a cap on the path), cancels
// of single queued tasks, force-runs of queued tasks (over every cap, taking
// no slot), and Resize of any scope, down too, which fails the queued tasks
// of the subtree that no longer fit with ErrWeightTooLarge. After each step
// the tasks started are the model's, and so are the slots in use at every
// level and the heaps.
func TestHostileAdmissionDeepCapsAgainstAModel(t *testing.T) {
	for seed := range uint64(hsSeeds()) {
		for _, step := range []int64{0, 7} {
			hsRunDeepModel(t, seed, step, 300)
		}
	}
}

func hsRunDeepModel(t *testing.T, seed uint64, step int64, ops int) {
	r := rand.New(rand.NewPCG(seed, uint64(step)+7))
	mock := clock.NewMock()
	mock.Set(time.Unix(1_000_000, 0))
	opts := []SchedulerOption{WithLimit(4), WithLogger(slog.New(slog.DiscardHandler))}
	if step > 0 {
		opts = append(opts, WithAging(time.Duration(step)), WithClock(ClockOf[*clock.Timer](mock)))
	}
	s, err := New(opts...)
	require.NoError(t, err)
	m := &rvModel{step: step}
	m.scopes = append(m.scopes, &rvScope{parent: -1, cap: 4, sc: s.Root()})
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
	a := add(0, 3)
	a1 := add(a, 2)
	add(a1, 1) // a11
	add(a1, 0) // a12
	a2 := add(a, 0)
	add(a2, 2) // a21
	b := add(0, 0)
	add(b, 1) // b1
	for range 3 {
		add(0, 0)
	}
	forced := map[int]bool{}
	forcedRunning := func() []*rvTask {
		var out []*rvTask
		for _, x := range m.tasks {
			if x.state == 1 && forced[x.id] {
				out = append(out, x)
			}
		}
		return out
	}
	started := make(chan int, 4096)
	var seq, promos int64
	ctx := fmt.Sprintf("seed %d step %d", seed, step)
	// fitsCaps: w slots can ever fit every cap on sc's path (else submit
	// refuses them).
	fitsCaps := func(sci, w int) bool {
		for p := sci; p >= 0; p = m.scopes[p].parent {
			if c := m.scopes[p].cap; c > 0 && w > c {
				return false
			}
		}
		return true
	}
	inSubtree := func(x, top int) bool {
		for p := x; p >= 0; p = m.scopes[p].parent {
			if p == top {
				return true
			}
		}
		return false
	}

	settle := func(op int, what string, want []*rvTask) {
		t.Helper()
		s.lock()
		s.unlock()
		got := map[int]bool{}
		timeout := time.After(10 * time.Second)
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
		select {
		case id := <-started:
			t.Fatalf("%s op %d (%s): task %d started, the model started no more", ctx, op, what, id)
		default:
		}
		running := 0
		for _, x := range m.tasks {
			if x.state == 1 {
				running++
			}
		}
		func() {
			s.lock()
			defer s.unlock()
			require.Equal(t, running, s.running, "%s op %d (%s): running", ctx, op, what)
			for i, x := range m.scopes {
				require.Equal(t, int64(x.inUse), x.sc.lim.InUse(), "%s op %d (%s): slots in use at scope %d", ctx, op, what, i)
			}
			rvCheckIndex(t, s, fmt.Sprintf("%s op %d (%s)", ctx, op, what))
		}()
		st := s.Stats()
		require.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected+uint64(st.Queued+st.Running+st.Lazy), "%s op %d (%s): Stats %+v", ctx, op, what, st)
		queued := 0
		for _, x := range m.tasks {
			if x.state == 0 {
				queued++
			}
		}
		require.Equal(t, queued, st.Queued, "%s op %d (%s): queued", ctx, op, what)
		require.Equal(t, len(forcedRunning()), st.OverCap, "%s op %d (%s): over the cap", ctx, op, what)
	}
	defer func() {
		for _, x := range m.tasks {
			if x.state != 2 {
				close(x.gate)
			}
		}
		require.NoError(t, s.Shutdown(context.Background()))
	}()
	prios := []int{math.MinInt32, -1, 0, 0, 1, math.MaxInt32}
	submit := func() []*rvTask {
		sci := r.IntN(len(m.scopes))
		x := &rvTask{id: len(m.tasks), scope: sci, w: 1, gate: make(chan struct{})}
		if r.IntN(3) == 0 {
			x.prio = prios[r.IntN(len(prios))]
		}
		if r.IntN(4) == 0 {
			x.w = 2 + r.IntN(2)
		}
		if step > 0 {
			mock.Add(1)
			x.qat = mock.Now().UnixNano()
		}
		id, gate := x.id, x.gate
		h, err := Go(m.scopes[sci].sc, func(context.Context) error {
			started <- id
			<-gate
			return nil
		}, lazytask.WithPriority(x.prio), lazytask.WithWeight(x.w))
		if !fitsCaps(sci, x.w) {
			require.ErrorIs(t, err, ErrWeightTooLarge, "%s: weight %d in scope %d", ctx, x.w, sci)
			return nil
		}
		require.NoError(t, err)
		seq++
		x.seq = seq
		x.h = h
		m.tasks = append(m.tasks, x)
		return m.admit()
	}
	for op := range ops {
		if step > 0 {
			mock.Add(time.Duration(r.IntN(int(3 * step))))
		}
		queued, running := m.queuedRunning()
		switch k := r.IntN(100); {
		case k < 45 || len(queued)+len(running) == 0:
			var want []*rvTask
			for n := 1 + r.IntN(3); n > 0 && len(want) == 0; n-- {
				want = submit()
			}
			settle(op, "submit", want)
		case k < 72 && len(running) > 0:
			x := running[r.IntN(len(running))]
			close(x.gate)
			require.NoError(t, x.h.Wait(context.Background()))
			x.state = 2
			if !forced[x.id] {
				for p := x.scope; p >= 0; p = m.scopes[p].parent {
					m.scopes[p].inUse -= x.w
				}
			}
			settle(op, "end", m.admit())
		case k < 80 && len(queued) > 0:
			x := queued[r.IntN(len(queued))]
			if x.promo > 0 {
				continue
			}
			require.NoError(t, s.Promote(x.h))
			promos++
			x.promo = promos
			settle(op, "promote", m.admit())
		case k < 86 && len(queued) > 0:
			x := queued[r.IntN(len(queued))]
			require.True(t, x.h.Cancel(errors.New("model")), "%s: cancel of queued task %d", ctx, x.id)
			require.Error(t, x.h.Wait(context.Background()))
			x.state = 2
			settle(op, "cancel", m.admit())
		case k < 91 && len(queued) > 0:
			x := queued[r.IntN(len(queued))]
			require.NoError(t, s.Force(x.h))
			x.state = 1
			forced[x.id] = true
			settle(op, "force", append([]*rvTask{x}, m.admit()...))
		default:
			sci := r.IntN(len(m.scopes))
			n := 1 + r.IntN(3)
			if sci == 0 {
				n = 2 + r.IntN(4)
			}
			require.NoError(t, m.scopes[sci].sc.Resize(n))
			m.scopes[sci].cap = n
			for _, x := range m.tasks {
				if x.state == 0 && inSubtree(x.scope, sci) && x.w > n {
					x.state = 2
					require.ErrorIs(t, x.h.Wait(context.Background()), ErrWeightTooLarge, "%s: task %d of weight %d after resize of %d to %d", ctx, x.id, x.w, sci, n)
				}
			}
			settle(op, fmt.Sprintf("resize %d to %d", sci, n), m.admit())
		}
	}
}

// hsSeeds is the number of seeds: 6, or LAZYSCHED_MODEL_SEEDS.
func hsSeeds() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("LAZYSCHED_MODEL_SEEDS"), &n); err == nil && n > 0 {
		return n
	}
	return 6
}
