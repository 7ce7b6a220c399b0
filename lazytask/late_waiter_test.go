package lazytask_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// goroutineID reads the running goroutine's number from its stack header.
func goroutineID() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	b := bytes.TrimPrefix(buf[:n], []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}

// spinDone polls h.Done() until it is closed, so that some polls land in
// the moment between the task's end and its callbacks.
func spinDone(h lazytask.Handle) {
	for i := 1; ; i++ {
		select {
		case <-h.Done():
			return
		default:
		}
		if i%256 == 0 {
			// With one P the task's goroutine runs only when this one
			// yields: without it each round waited for preemption (10 ms;
			// 108 s for the test at GOMAXPROCS 1, a flake hunt).
			runtime.Gosched()
		}
	}
}

// A waiter that calls Done just as its task ends must not run the
// callbacks registered before the end: they run on the goroutine that
// ends the task (OnDone's doc). Before the fix the late waiter ran them on
// its own goroutine, so that a slow callback held its wait and a
// callback's runtime.Goexit ended it. Standalone tasks and tasks of a
// scheduler both.
func TestHostileLateWaiterNeverRunsEarlierCallbacks(t *testing.T) {
	s, err := scheduler.New(scheduler.WithLimit(2))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
	const rounds = 2000
	for _, mode := range []string{"standalone", "scheduler"} {
		t.Run(mode, func(t *testing.T) {
			me := goroutineID()
			for i := range rounds {
				gate := make(chan struct{})
				fn := func(context.Context) (struct{}, error) { <-gate; return struct{}{}, nil }
				var h *lazytask.Task[struct{}]
				if mode == "standalone" {
					h = lazytask.New(fn)
				} else {
					h, err = scheduler.Submit(s, fn)
					require.NoError(t, err)
				}
				ran := make(chan uint64, 1)
				h.OnDone(func(struct{}, error) { ran <- goroutineID() })
				if mode == "standalone" {
					require.NoError(t, h.Start())
				}
				close(gate)
				spinDone(h)
				g := <-ran
				require.NotEqual(t, me, g, "round %d: a callback registered before the end ran on the waiter's goroutine", i)
			}
		})
	}
}

// The same with a callback that calls runtime.Goexit: it ends the
// goroutine that runs it, which must be the ender's, never a waiter's.
func TestHostileLateWaiterSurvivesACallbackGoexit(t *testing.T) {
	s, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
	var killed atomic.Int32
	for range 1000 {
		gate := make(chan struct{})
		h, err := scheduler.Go(s, func(context.Context) error { <-gate; return nil })
		require.NoError(t, err)
		h.OnDone(func(struct{}, error) { runtime.Goexit() })
		waited := make(chan bool)
		go func() {
			returned := false
			defer func() { waited <- returned }()
			close(gate)
			spinDone(h)
			returned = true
		}()
		if !<-waited {
			killed.Add(1)
		}
	}
	require.Zero(t, killed.Load(), "waiters ended by another task's callback")
}

// A callback registered once State reads Canceled (a queued task canceled
// from another goroutine) runs before OnDone returns, on the registrant's
// goroutine, as OnDone's doc says of callbacks registered after the end.
// It used to land, now and then, on the canceler's goroutine: State reads
// Canceled while the cancel is in transit, and the callback then counted
// as registered before the end; or the canceler's drain, with nothing of
// its own, took it. Then a Shutdown did not wait for it (a hostile review,
// 2026-12-06: about 1 in 1,000 rounds).
func TestHostileCallbackRegisteredOnceCanceledRunsBeforeOnDoneReturns(t *testing.T) {
	const rounds = 2000
	for i := range rounds {
		s, err := scheduler.New(scheduler.WithLimit(1))
		require.NoError(t, err)
		hold, unhold := make(chan struct{}), make(chan struct{})
		_, err = scheduler.Go(s, func(context.Context) error { close(hold); <-unhold; return nil })
		require.NoError(t, err)
		<-hold
		q, err := scheduler.Go(s, func(context.Context) error { return nil })
		require.NoError(t, err)
		_ = q.Done() // a waiter's channel: the end takes the slow path
		go q.Cancel(errors.New("not needed"))
		for !q.State().Terminal() {
			runtime.Gosched()
		}
		var ran atomic.Bool
		q.OnDone(func(struct{}, error) { ran.Store(true) })
		if !ran.Load() {
			close(unhold)
			require.NoError(t, s.Shutdown(context.Background()))
			t.Fatalf("round %d: the callback had not run when OnDone returned", i)
		}
		close(unhold)
		require.NoError(t, s.Shutdown(context.Background()))
	}
}

// Three goroutines register callbacks as a task ends. The first callback
// to run has none before it, so OnDone's doc leaves it two places: the
// goroutine that ends the task (registered before the end) or its
// registrant's. It ran now and then on a third, another registrant's: the
// end came between its append and its flag, missed it, and a later
// registrant drained it (a hostile review, 2026-12-06: about once in 20,000
// rounds at 4 Ps).
func TestHostileFirstCallbackRunsOnTheEnderOrItsRegistrant(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4)) // the race shows at 4 Ps (2 cores here)
	for round := range 20000 {
		var ender atomic.Uint64
		release := make(chan struct{})
		tk := lazytask.New(func(context.Context) (int, error) { ender.Store(goroutineID()); <-release; return 1, nil })
		require.NoError(t, tk.Start())
		var mu sync.Mutex
		first := -1
		var regG, runG [3]uint64
		var registered sync.WaitGroup
		ran := make(chan struct{}, 3)
		for g := range 3 {
			registered.Add(1)
			go func() {
				defer registered.Done()
				id := goroutineID()
				mu.Lock()
				regG[g] = id
				mu.Unlock()
				tk.OnDone(func(int, error) {
					mu.Lock()
					runG[g] = goroutineID()
					if first < 0 {
						first = g
					}
					mu.Unlock()
					ran <- struct{}{}
				})
			}()
		}
		close(release)
		registered.Wait()
		for range 3 {
			<-ran
		}
		mu.Lock()
		on, reg, end := runG[first], regG[first], ender.Load()
		mu.Unlock()
		if on != end && on != reg {
			t.Fatalf("round %d: the first callback (registrant g%d) ran on g%d; the task's ender was g%d", round, reg, on, end)
		}
	}
}
