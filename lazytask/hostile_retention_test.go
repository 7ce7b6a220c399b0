package lazytask_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

// collected reports whether w's object is collected within a bounded
// number of collections.
func collected[T any](w weak.Pointer[T]) bool {
	for range 20 {
		runtime.GC()
		if w.Value() == nil {
			return true
		}
	}
	return false
}

// A long-running task (a connection handler, a poller) that derives a
// context from its own per request and cancels it when the request is done,
// or registers a context.AfterFunc and stops it, must not keep what it
// registered alive until the task ends: context.WithCancel of a task's
// context registers through the task context's AfterFunc method, and its
// cancel calls the stop function that method returned.
func TestHostileStoppedAfterFuncOnARunningTasksContextIsReleased(t *testing.T) {
	type payload [256]byte
	probe := make(chan weak.Pointer[payload])
	registerAndStop := func(t *testing.T, ctx context.Context) weak.Pointer[payload] {
		p := &payload{}
		stop := context.AfterFunc(ctx, func() { _ = p[0] })
		require.True(t, stop(), "stop of a fresh AfterFunc")
		return weak.Make(p)
	}
	release := make(chan struct{})
	h := lazytask.New(func(ctx context.Context) (int, error) {
		probe <- registerAndStop(t, ctx)
		<-release
		return 0, nil
	})
	require.NoError(t, h.Start())
	w := <-probe
	ok := collected(w)
	close(release)
	_, err := h.Await(context.Background())
	require.NoError(t, err)
	require.True(t, ok, "what a stopped context.AfterFunc on a running task's context captured is kept until the task ends")
}

// The same through context.WithCancel, over many requests: the heap grows
// by each request's canceled child context.
func TestHostileCanceledChildContextsOfARunningTaskDoNotAccumulate(t *testing.T) {
	const n = 100_000
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	growth := make(chan int64, 1)
	h := lazytask.New(func(ctx context.Context) (int, error) {
		for range 1000 { // warm up
			c, cancel := context.WithTimeout(ctx, time.Hour)
			_ = c.Err()
			cancel()
		}
		before := heap()
		for range n {
			c, cancel := context.WithCancel(ctx)
			_ = c.Err()
			cancel()
		}
		growth <- int64(heap()) - int64(before)
		return 0, nil
	})
	require.NoError(t, h.Start())
	g := <-growth
	_, err := h.Await(context.Background())
	require.NoError(t, err)
	t.Logf("heap growth over %d canceled child contexts: %d B (%.1f B each)", n, g, float64(g)/n)
	require.Less(t, g, int64(n*8), "heap growth over %d canceled child contexts of a running task", n)
}

// A handle kept after its task ended (a result cache, a list of futures)
// must not keep the task's function, and what it captured, alive: the
// function never runs again (sync.OnceValue lets go of its function too).
// Also for a task canceled before it ran.
func TestHostileEndedTaskLetsGoOfItsFunction(t *testing.T) {
	type payload [4096]byte
	for _, run := range []bool{true, false} {
		make := func() (*lazytask.Task[int], weak.Pointer[payload]) {
			p := &payload{1}
			return lazytask.New(func(context.Context) (int, error) { return int(p[0]), nil }), weak.Make(p)
		}
		h, w := make()
		if run {
			require.NoError(t, h.Start())
			v, err := h.Await(context.Background())
			require.NoError(t, err)
			require.Equal(t, 1, v)
		} else {
			require.True(t, h.Cancel(nil))
		}
		ok := collected(w)
		require.Equal(t, run, h.State() == lazytask.Succeeded)
		require.NotNil(t, h.Info(), "the handle is still usable")
		require.True(t, ok, "what the function of an ended task (ran %v) captured is kept while its handle is", run)
	}
}

// A Lazy task that carries a long-lived context (WithContext of a
// server's base context) and that its maker drops without starting it is
// garbage: nobody holds it, its Done channel or a callback. The watch on
// the carried context holds it weakly, and a cleanup ends that watch once
// it is collected, so a program that makes lazy tasks speculatively and
// starts only some does not grow with the context's life (I12). Before,
// the watch held each such task for as long as the context lived.
func TestHostileDroppedLazyTaskCarryingALongLivedContextIsCollected(t *testing.T) {
	long, cancel := context.WithCancel(context.Background())
	defer cancel()
	type payload [256]byte
	ws := make([]weak.Pointer[payload], 0, 100)
	for range 100 {
		p := &payload{1}
		lazytask.New(func(context.Context) (int, error) { return int(p[0]), nil }, lazytask.WithContext(long))
		ws = append(ws, weak.Make(p))
	}
	for i, w := range ws {
		require.True(t, collected(w), "dropped Lazy task %d, carrying a live context, is kept alive by it", i)
	}
	cancel() // the watches that are left, if any, find nothing to cancel
}

// The other side of the weak hold: a dropped handle whose Done channel or
// callback is out is still canceled by its carried context, so the
// channel closes and the callback runs exactly once.
func TestHostileDroppedButObservedLazyTaskIsStillCanceledByItsContext(t *testing.T) {
	for _, how := range []string{"Done", "OnDone"} {
		t.Run(how, func(t *testing.T) {
			long, cancel := context.WithCancelCause(context.Background())
			over := errors.New("request over")
			var ran atomic.Int32
			var got error
			ch := func() <-chan struct{} {
				h := lazytask.New(func(context.Context) (int, error) { return 1, nil }, lazytask.WithContext(long))
				if how == "OnDone" {
					done := make(chan struct{})
					h.OnDone(func(_ int, err error) {
						got = err // read after done closes
						ran.Add(1)
						close(done)
					})
					return done
				}
				return h.Done()
			}()
			for range 5 {
				runtime.GC() // the handle is garbage; what it gave out is not
			}
			cancel(over)
			<-ch // hangs if the watch lost the task
			if how == "OnDone" {
				require.Equal(t, int32(1), ran.Load())
				require.ErrorIs(t, got, over)
			}
		})
	}
}

// A task whose watch holds it strongly (it was observed) lets go of it
// when it ends: its end stops the watch and the cleanup, so nothing
// keeps it (and what its handle kept) once the handle is dropped.
func TestHostileObservedLazyTaskCarryingALiveContextIsCollectedAfterItsEnd(t *testing.T) {
	long, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := func() weak.Pointer[lazytask.Task[int]] {
		h := lazytask.New(func(context.Context) (int, error) { return 1, nil }, lazytask.WithContext(long))
		_ = h.Done()
		require.NoError(t, h.Start())
		_, err := h.Await(context.Background())
		require.NoError(t, err)
		return weak.Make(h)
	}()
	require.True(t, collected(w), "an observed task that ended is kept by its carried context")
}

// An Await cut short by its own context observed a Lazy task (it took
// the task's Done channel) and left that observation in place: the
// watch of the carried context then held the task until the context
// ended, though nothing could see its end any more once its handle was
// dropped. A service that awaits on-demand Lazy tasks with a deadline and
// drops those nobody started kept each of them as long as its base
// context. The wait now takes back the channel it made (ForgetDone) if
// nobody else took it.
func TestHostileLazyTaskAwaitedWithACutShortWaitThenDroppedIsCollected(t *testing.T) {
	long, cancel := context.WithCancel(context.Background())
	defer cancel()
	type payload [256]byte
	w := func() weak.Pointer[payload] {
		p := &payload{1}
		h := lazytask.New(func(context.Context) (int, error) { return int(p[0]), nil }, lazytask.WithContext(long))
		_, err := h.Await(&endsOnceWaited{})
		require.ErrorIs(t, err, context.Canceled)
		return weak.Make(p)
	}()
	require.True(t, collected(w), "a dropped Lazy task whose Await was cut short is kept by its carried context")
}

// endsOnceWaited is a context that is live when first asked (Await's
// check before it waits) and done from then on: the wait begins, then
// ends at once, with no goroutine and no timing.
type endsOnceWaited struct {
	context.Context
	asked atomic.Bool
}

func (c *endsOnceWaited) Done() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

func (c *endsOnceWaited) Err() error {
	if c.asked.Swap(true) {
		return context.Canceled
	}
	return nil
}

func (c *endsOnceWaited) Value(any) any { return nil }

// The other side of an Await taking its channel back: every other wait
// still sees the end. Waits cut short at once and waits that last, Done
// channels taken before and after, from many goroutines at once, on a
// Lazy task that carries a context; then the task runs: each lasting wait
// returns its result and each channel closes.
func TestHostileAwaitsCutShortLeaveTheOtherWaitsOfALazyTaskIntact(t *testing.T) {
	for range 50 {
		long, cancel := context.WithCancel(context.Background())
		h := lazytask.New(func(context.Context) (int, error) { return 7, nil }, lazytask.WithContext(long))
		const n = 16
		chans := make(chan (<-chan struct{}), n)
		results := make(chan int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch i % 4 {
				case 0, 1:
					_, err := h.Await(&endsOnceWaited{})
					if err != nil {
						require.ErrorIs(t, err, context.Canceled)
					}
				case 2:
					chans <- h.Done()
				case 3:
					wg.Add(1)
					go func() {
						defer wg.Done()
						v, err := h.Await(context.Background())
						require.NoError(t, err)
						results <- v
					}()
				}
			}()
		}
		require.NoError(t, h.Start())
		wg.Wait()
		close(chans)
		for ch := range chans {
			<-ch
		}
		close(results)
		for v := range results {
			require.Equal(t, 7, v)
		}
		<-h.Done()
		cancel()
	}
}
