package lazytask_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

func TestOnDoneRunsInRegistrationOrder(t *testing.T) {
	g := newGate()
	tk := lazytask.New(g.fn)
	var order []int
	var mu sync.Mutex
	for i := range 10 {
		tk.OnDone(func(int, error) {
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		})
	}
	allDone := make(chan struct{})
	tk.OnDone(func(int, error) { close(allDone) })
	require.NoError(t, tk.Start())
	g.finish(1, nil)
	<-allDone
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, order, "callback order")
}

func TestOnDoneAfterTheEndRunsBeforeReturning(t *testing.T) {
	tk := lazytask.New(func(ctx context.Context) (int, error) { return 4, errBoom })
	require.NoError(t, tk.Start())
	_, _ = tk.Await(bg)
	var calls []int
	for i := range 3 {
		tk.OnDone(func(v int, err error) {
			if v != 0 || err != errBoom {
				t.Errorf("callback(%v, %v); want (0, %v): a failed task's value is zero", v, err, errBoom)
			}
			calls = append(calls, i)
		})
		// No synchronisation needed: the doc says the callback runs at
		// once on this goroutine.
		if len(calls) != i+1 {
			t.Fatalf("after OnDone #%d returned, %d callbacks had run; want %d", i, len(calls), i+1)
		}
	}
	assert.Equal(t, []int{0, 1, 2}, calls, "callback order")
}

func TestOnDoneOnAFailedAtCreationTaskRuns(t *testing.T) {
	tk := lazytask.New[int](nil)
	var got error
	tk.OnDone(func(_ int, err error) { got = err })
	assert.ErrorIs(t, got, lazytask.ErrNilFunc, "callback error of a nil-func task")
}

func TestOnDoneSeesTheResultPublished(t *testing.T) {
	// I1: the result is visible before Done closes and before callbacks run.
	for range 200 {
		g := newGate()
		tk := lazytask.New(g.fn)
		type seen struct {
			v        int
			err      error
			rv       int
			rerr     error
			state    lazytask.State
			doneOpen bool
		}
		out := make(chan seen, 1)
		tk.OnDone(func(v int, err error) {
			rv, rerr := tk.Result()
			out <- seen{v, err, rv, rerr, tk.State(), !isClosed(tk.Done())}
		})
		require.NoError(t, tk.Start())
		<-g.started
		g.finish(11, errBoom)
		s := <-out
		if s.v != 0 || s.err != errBoom {
			t.Fatalf("callback got (%v, %v); want (0, %v): a failed task's value is zero", s.v, s.err, errBoom)
		}
		if s.rv != 0 || s.rerr != errBoom {
			t.Fatalf("Result() inside callback = %v, %v; want 0, %v", s.rv, s.rerr, errBoom)
		}
		if s.state != lazytask.Failed {
			t.Fatalf("State() inside callback = %v; want failed", s.state)
		}
		if s.doneOpen {
			t.Fatalf("Done() inside callback is open; want closed")
		}
	}
}

func TestResultIsVisibleOnceDoneIsClosed(t *testing.T) {
	// Run under -race: reading the value after <-Done() must not race
	// with the write of the task's goroutine (I1).
	for i := range 200 {
		tk := lazytask.New(func(ctx context.Context) ([]int, error) {
			return []int{i, i + 1}, nil
		})
		done := tk.Done()
		require.NoError(t, tk.Start())
		<-done
		v, err := tk.Result()
		if err != nil || len(v) != 2 || v[0] != i {
			t.Fatalf("Result() after <-Done() = %v, %v; want [%d %d], nil", v, err, i, i+1)
		}
	}
}

func TestOnDoneRunsExactlyOnceWhileTheEndRaces(t *testing.T) {
	// I2: many goroutines register callbacks while the task ends; every
	// callback runs exactly once, and each goroutine's callbacks run in its
	// registration order.
	const (
		rounds     = 100
		goroutines = 8
		perG       = 16
		total      = goroutines * perG
	)
	for round := range rounds {
		g := newGate()
		tk := lazytask.New(g.fn)
		var counts [total]atomic.Int32
		var mu sync.Mutex
		seq := make([][]int, goroutines)
		calls := make(chan struct{}, total*2)
		begin := make(chan struct{})
		var wg sync.WaitGroup
		for gi := range goroutines {
			wg.Go(func() {
				<-begin
				for j := range perG {
					id := gi*perG + j
					tk.OnDone(func(v int, err error) {
						if v != round || err != nil {
							t.Errorf("callback(%v, %v); want (%d, nil)", v, err, round)
						}
						counts[id].Add(1)
						mu.Lock()
						seq[gi] = append(seq[gi], j)
						mu.Unlock()
						calls <- struct{}{}
					})
				}
			})
		}
		require.NoError(t, tk.Start())
		<-g.started
		close(begin)
		g.finish(round, nil) // the end races with the registrations
		wg.Wait()
		for range total {
			<-calls
		}
		for id := range counts {
			if got := counts[id].Load(); got != 1 {
				t.Fatalf("round %d: callback %d ran %d times; want 1", round, id, got)
			}
		}
		mu.Lock()
		for gi, s := range seq {
			if !slices.IsSorted(s) {
				t.Fatalf("round %d: goroutine %d's callbacks ran in order %v; want registration order", round, gi, s)
			}
		}
		mu.Unlock()
		if extra := len(calls); extra != 0 {
			t.Fatalf("round %d: %d extra callback calls; want 0", round, extra)
		}
	}
}

func TestOnDonePanicIsRecoveredAndLaterCallbacksRun(t *testing.T) {
	var buf syncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	tk := lazytask.New(func(ctx context.Context) (int, error) { return 1, nil })
	ran := make(chan struct{})
	tk.OnDone(func(int, error) { panic("callback boom") })
	tk.OnDone(func(int, error) { close(ran) })
	require.NoError(t, tk.Start())
	<-ran
	_, err := tk.Await(bg)
	require.NoError(t, err, "Await(bg)")
	// After the end, a panicking callback must not reach the caller.
	// (Where it runs is left alone here: see bugs_test.go.)
	assert.NotPanics(t, func() { tk.OnDone(func(int, error) { panic("late boom") }) }, "OnDone after the end with a panicking callback")
	assert.Contains(t, buf.String(), "callback boom", "log of the recovered panic")
}

func TestOnDoneNilIsIgnored(t *testing.T) {
	tk := lazytask.New(func(ctx context.Context) (int, error) { return 1, nil })
	assert.NotPanics(t, func() { tk.OnDone(nil) }, "OnDone(nil) before the end")
	require.NoError(t, tk.Start())
	_, _ = tk.Await(bg)
	assert.NotPanics(t, func() { tk.OnDone(nil) }, "OnDone(nil) after the end")
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (slog handlers
// may be called from the task's goroutine).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
