package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func hwCheckStats(t *testing.T, where string, st scheduler.Stats) bool {
	t.Helper()
	ok := true
	sum := st.Succeeded + st.Failed + st.Canceled + st.Rejected + uint64(st.Queued+st.Running+st.Lazy)
	ok = assert.Equal(t, st.Created, sum, "%s: Created != the sum of its parts: %+v", where, st) && ok
	ok = assert.GreaterOrEqual(t, st.Running, st.OverCap, "%s: %+v", where, st) && ok
	ok = assert.True(t, st.Queued >= 0 && st.Lazy >= 0 && st.InUse >= 0 && st.OverCapSlots >= 0, "%s: negative: %+v", where, st) && ok
	if !st.Unlimited {
		ok = assert.LessOrEqual(t, st.InUse-st.OverCapSlots, st.Limit, "%s: slots over the cap not counted as OverCap: %+v", where, st) && ok
	}
	return ok
}

func hwCheckSnapshot(t *testing.T, snap scheduler.ScopeSnapshot) bool {
	t.Helper()
	ok := assert.Equal(t, snap.Queued+snap.Running+snap.Lazy, len(snap.Tasks), "snapshot %q: counts and tasks disagree: %+v", snap.Name, snap)
	for _, ts := range snap.Tasks {
		ok = assert.GreaterOrEqual(t, ts.Age, time.Duration(0), "snapshot %q: negative age", snap.Name) && ok
	}
	for _, ch := range snap.Children {
		ok = hwCheckSnapshot(t, ch) && ok
	}
	return ok
}

// TestHostileHWStatsUnderChurn: Stats of every scope and the Snapshot,
// read over and over while several goroutines submit, make and force-run
// Lazy tasks, promote, cancel tasks and make, cancel and shut down child
// scopes, always keep the identity of Stats, InUse within the cap but for
// OverCap slots, and a snapshot whose counts match its tasks; once all is
// over, the root's and each scope's Stats agree with the handles made in
// it.
func TestHostileHWStatsUnderChurn(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(3), scheduler.WithTimings(), scheduler.WithQueueLimit(40))
	a, err := s.Root().NewScope(scheduler.WithName("a"), scheduler.WithLimit(2))
	require.NoError(t, err)
	b, err := s.Root().NewScope(scheduler.WithName("b"))
	require.NoError(t, err)
	a1, err := a.NewScope(scheduler.WithName("a1"), scheduler.WithLimit(1))
	require.NoError(t, err)

	var mu sync.Mutex
	scopes := []*scheduler.Scope{s.Root(), a, b, a1}
	handles := map[*scheduler.Scope][]lazytask.Handle{}
	var all []lazytask.Handle
	boom := errors.New("hW: boom")
	body := func(r int) func(ctx context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			runtime.Gosched()
			switch r % 4 {
			case 0:
				return 0, boom
			case 1:
				return 0, ctx.Err()
			}
			return r, nil
		}
	}

	stop := make(chan struct{})
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			sc := append([]*scheduler.Scope(nil), scopes...)
			mu.Unlock()
			for _, x := range sc {
				if !hwCheckStats(t, x.Name(), x.Stats()) {
					return
				}
			}
			if !hwCheckSnapshot(t, s.Snapshot()) {
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 150 {
				mu.Lock()
				sc := scopes[rng.IntN(len(scopes))]
				var old lazytask.Handle
				if len(all) > 0 {
					old = all[rng.IntN(len(all))]
				}
				mu.Unlock()
				name := fmt.Sprintf("w%d-%d", w, i)
				var h lazytask.Handle
				switch op := rng.IntN(10); {
				case op < 4:
					h, _ = scheduler.Submit(sc, body(i), lazytask.WithName(name), lazytask.WithPriority(rng.IntN(3)))
				case op < 6:
					lt := scheduler.NewTask(sc, body(i), lazytask.WithName(name))
					h = lt
					switch rng.IntN(3) {
					case 0:
						_ = sc.Force(lt)
					case 1:
						_ = lt.Start()
					}
				case op == 6 && old != nil:
					_ = s.Promote(old)
				case op == 7 && old != nil:
					old.Cancel(errors.New("hW: cancel"))
				case op == 8:
					child, err := sc.NewScope(scheduler.WithName(name+"-scope"), scheduler.WithLimit(1+rng.IntN(2)))
					if err == nil {
						mu.Lock()
						scopes = append(scopes, child)
						mu.Unlock()
					}
				case op == 9 && sc != s.Root() && sc != a && sc != b && sc != a1:
					if rng.IntN(2) == 0 {
						sc.Cancel(errors.New("hW: scope cancel"))
					} else {
						go func() { _ = sc.Shutdown(bg) }()
					}
				}
				if h != nil {
					mu.Lock()
					handles[sc] = append(handles[sc], h)
					all = append(all, h)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	// End every Lazy task left, then wait for them all.
	for _, h := range all {
		if h.State() == lazytask.Lazy {
			h.Cancel(errors.New("hW: left lazy"))
		}
	}
	for _, h := range all {
		require.NoError(t, func() error {
			select {
			case <-h.Done():
				return nil
			case <-time.After(10 * time.Second):
				return fmt.Errorf("hang guard: task %s (%v) never ended", h.Name(), h.State())
			}
		}())
	}
	close(stop)
	<-checked

	// The counters of a task's end are decided before Done closes; by now
	// each Done is closed, so the counts are final.
	want := func(hs []lazytask.Handle) (st scheduler.Stats) {
		for _, h := range hs {
			i := h.Info()
			st.Created++
			switch {
			case i.Rejected:
				st.Rejected++
			case i.State == lazytask.Succeeded:
				st.Succeeded++
			case i.State == lazytask.Failed:
				st.Failed++
			case i.State == lazytask.Canceled:
				st.Canceled++
			}
		}
		return st
	}
	mu.Lock()
	defer mu.Unlock()
	// A scope's Stats count its subtree: fold the handles up the tree.
	sub := map[*scheduler.Scope][]lazytask.Handle{}
	for sc, hs := range handles {
		for x := sc; x != nil; x = x.Parent() {
			sub[x] = append(sub[x], hs...)
		}
	}
	for _, sc := range scopes {
		got, exp := sc.Stats(), want(sub[sc])
		hwCheckStats(t, sc.Name(), got)
		assert.Equal(t, [5]uint64{exp.Created, exp.Succeeded, exp.Failed, exp.Canceled, exp.Rejected},
			[5]uint64{got.Created, got.Succeeded, got.Failed, got.Canceled, got.Rejected},
			"scope %q: Stats (Created, Succeeded, Failed, Canceled, Rejected) disagree with its handles: %+v", sc.Name(), got)
		assert.Zero(t, got.Queued+got.Running+got.Lazy, "scope %q: %+v", sc.Name(), got)
	}
}
