package scheduler_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func TestShutdownLeavesEveryHandleTerminalUnderChurn(t *testing.T) {
	// I4, I5, I6: submitters, cancelers, force-runs and promotes race with
	// a Shutdown whose grace ends early. Afterwards every handle has ended,
	// no slot is held, the counters add up, and no task canceled before it
	// ran has run.
	const (
		limit      = 4
		submitters = 4
		perSub     = 600
	)
	s := startScheduler(t, scheduler.WithLimit(limit))
	type entry struct {
		h    *lazytask.Task[int]
		ran  *atomic.Bool
		kind int
	}
	var mu sync.Mutex
	var all []entry
	pick := func(r *rand.Rand) *lazytask.Task[int] {
		mu.Lock()
		defer mu.Unlock()
		if len(all) == 0 {
			return nil
		}
		return all[r.IntN(len(all))].h
	}
	graceOver, endGrace := context.WithCancel(bg)
	defer endGrace()
	var wg sync.WaitGroup
	var submitted atomic.Int32
	halfway := make(chan struct{})
	var halfOnce sync.Once
	for i := range submitters {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for range perSub {
				ran := new(atomic.Bool)
				kind := r.IntN(6)
				h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
					ran.Store(true)
					switch kind {
					case 0:
						panic("churn")
					case 1:
						return 0, errBoom
					case 2: // waits for its context: only a cancel ends it
						<-ctx.Done()
						return 0, ctx.Err()
					}
					runtime.Gosched()
					return 1, nil
				}, lazytask.WithPriority(r.IntN(3)), lazytask.WithWeight(1+r.IntN(2)))
				if errors.Is(err, scheduler.ErrClosed) {
					if h.State() != lazytask.Canceled {
						t.Errorf("task refused with ErrClosed has State() %v; want canceled", h.State())
					}
					return
				}
				if err != nil {
					t.Errorf("Submit = %v; want nil or ErrClosed", err)
					return
				}
				if submitted.Add(1) == submitters*perSub/2 {
					halfOnce.Do(func() { close(halfway) })
				}
				mu.Lock()
				all = append(all, entry{h, ran, kind})
				mu.Unlock()
			}
		})
	}
	// Chaos: cancel, force, promote and start random tasks.
	for i := range 2 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(100+i), 9))
			for range 1500 {
				h := pick(r)
				if h == nil {
					runtime.Gosched()
					continue
				}
				switch r.IntN(4) {
				case 0:
					h.Cancel(errors.New("chaos"))
				case 1:
					_ = s.Force(h)
				case 2:
					_ = s.Promote(h)
				case 3:
					_ = h.Start()
				}
				if st := s.Stats(); st.InUse > st.Limit {
					t.Errorf("Stats().InUse = %d > Limit %d", st.InUse, st.Limit)
				}
			}
			if i == 0 {
				endGrace() // the grace period ends while work remains
			}
		})
	}
	shutErr := make(chan error, 1)
	go func() {
		<-halfway
		shutErr <- s.Shutdown(graceOver)
	}()
	wg.Wait()
	halfOnce.Do(func() { close(halfway) })
	<-shutErr // nil or the grace's cause, depending on timing

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, int(submitted.Load()), len(all))
	var succeeded, failed, canceled uint64
	for i, e := range all {
		st := e.h.State()
		switch st {
		case lazytask.Succeeded:
			succeeded++
		case lazytask.Failed:
			failed++
		case lazytask.Canceled:
			canceled++
		default:
			t.Fatalf("task %d State() after Shutdown = %v; want terminal (I5)", i, st)
		}
		if st == lazytask.Succeeded && !e.ran.Load() {
			t.Fatalf("task %d Succeeded without running", i)
		}
		if st == lazytask.Canceled && e.ran.Load() && e.kind != 2 {
			// Only a task that returns its context's cancellation can end
			// Canceled after running; any other one was canceled before
			// it ran, and then it must not run (I4).
			t.Fatalf("task %d (kind %d) Canceled but its function ran (I4)", i, e.kind)
		}
	}
	st := s.Stats()
	assert.Zero(t, st.InUse, "Stats().InUse after Shutdown (I5)")
	assert.Zero(t, st.Running, "Stats().Running after Shutdown")
	assert.Zero(t, st.Queued, "Stats().Queued after Shutdown")
	assert.Zero(t, st.OverCap, "Stats().OverCap after Shutdown")
	assert.Zero(t, st.OverCapSlots, "Stats().OverCapSlots after Shutdown")
	assert.Equal(t, uint64(len(all)), st.Submitted, "Stats().Submitted")
	assert.Equal(t, succeeded, st.Succeeded, "Stats().Succeeded = handles that succeeded")
	assert.Equal(t, failed, st.Failed, "Stats().Failed = handles that failed")
	assert.Equal(t, canceled, st.Canceled, "Stats().Canceled = handles canceled")
}

func TestCanceledBeforeRunningNeverRunsUnderRaces(t *testing.T) {
	// I4: Cancel races with admission. A task whose Cancel returned true
	// while it was Queued (it ends Canceled with that cause as its error)
	// must never have run.
	s := startScheduler(t, scheduler.WithLimit(2))
	const n = 3000
	type entry struct {
		h     *lazytask.Task[int]
		ran   *atomic.Bool
		cause error
	}
	entries := make([]entry, n)
	var wg sync.WaitGroup
	for i := range entries {
		ran := new(atomic.Bool)
		h, err := scheduler.Submit(s, func(context.Context) (int, error) {
			ran.Store(true)
			return 1, nil // never returns a cancellation: Canceled means canceled before running
		})
		require.NoError(t, err)
		entries[i] = entry{h, ran, errors.New("cancel")}
		wg.Go(func() { h.Cancel(entries[i].cause) })
	}
	wg.Wait()
	require.NoError(t, s.Wait(bg))
	for i, e := range entries {
		switch e.h.State() {
		case lazytask.Canceled:
			if e.ran.Load() {
				t.Fatalf("task %d Canceled but its function ran (I4)", i)
			}
			if err := e.h.Err(); err != e.cause {
				t.Fatalf("task %d Err() = %v; want its cancel cause", i, err)
			}
		case lazytask.Succeeded:
			if !e.ran.Load() {
				t.Fatalf("task %d Succeeded without running", i)
			}
		default:
			t.Fatalf("task %d State() = %v; want canceled or succeeded", i, e.h.State())
		}
	}
}
