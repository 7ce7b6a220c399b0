package stress

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// SoakConfig sets up a soak. The zero value of each field takes the
// default given in its comment.
type SoakConfig struct {
	// Tasks is the number of tasks pending behind the blocked cap
	// (default 1,000,000).
	Tasks int
	// Cap is the cap of the slow drain (default 4).
	Cap int
	// Probes is the number of promotes, cancels and force-runs timed with
	// the queue full (default 1,000 each).
	Probes int
	// Timeout bounds the drain (default 5 minutes).
	Timeout time.Duration
	// Seed picks the probed tasks.
	Seed uint64
}

// SoakReport is the outcome of a soak.
type SoakReport struct {
	Tasks int
	// BytesPerTask is the live heap that one pending task costs, its
	// handle included (the slice that holds the handles is not counted):
	// the HeapAlloc growth after runtime.GC, divided by Tasks.
	BytesPerTask float64
	// SubmitNs is the mean time of one Submit while the queue fills.
	SubmitNs float64
	// PromoteNs, CancelNs and ForceNs are the mean times of one Promote,
	// Cancel and Force of a random queued task with the queue full.
	PromoteNs, CancelNs, ForceNs float64
	// Drain is the time the slow drain took.
	Drain time.Duration
	// HeapPending is the live heap (after GC) with every task pending,
	// HeapDrained with every task ended and the handles still held,
	// HeapAfter after Shutdown with the handles dropped; HeapBefore before
	// the soak.
	HeapBefore, HeapPending, HeapDrained, HeapAfter uint64
	// PeakHeapInuse is the highest HeapInuse sampled during the soak.
	PeakHeapInuse uint64
	// GoroutinesBefore and GoroutinesAfter bracket the soak.
	GoroutinesBefore, GoroutinesAfter int

	// Violations counts broken invariants; Samples describes a few.
	Violations int64
	Samples    []string
}

// String formats the report as the lines make soak prints.
func (r *SoakReport) String() string {
	var b strings.Builder
	mib := func(n uint64) float64 { return float64(n) / (1 << 20) }
	fmt.Fprintf(&b, "soak: %d tasks pending behind a blocked cap\n", r.Tasks)
	fmt.Fprintf(&b, "  bytes per pending task: %.1f (live heap %.1f MiB before, %.1f MiB pending)\n", r.BytesPerTask, mib(r.HeapBefore), mib(r.HeapPending))
	fmt.Fprintf(&b, "  submit: %.0f ns/task; with the queue full: promote %.0f ns, cancel %.0f ns, force %.0f ns\n", r.SubmitNs, r.PromoteNs, r.CancelNs, r.ForceNs)
	fmt.Fprintf(&b, "  slow drain: %v; live heap after it %.1f MiB (handles held), after Shutdown %.1f MiB (handles dropped)\n", r.Drain.Round(time.Millisecond), mib(r.HeapDrained), mib(r.HeapAfter))
	fmt.Fprintf(&b, "  peak heap in use: %.1f MiB; goroutines %d before, %d after\n", mib(r.PeakHeapInuse), r.GoroutinesBefore, r.GoroutinesAfter)
	fmt.Fprintf(&b, "  violations: %d\n", r.Violations)
	for _, s := range r.Samples {
		fmt.Fprintf(&b, "  - %s\n", s)
	}
	return b.String()
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Soak queues cfg.Tasks tasks behind a cap of 1 held by a blocked task,
// measures what each pending task costs and how long promote, cancel and
// force take with the queue full, then raises the cap and drains the queue
// slowly (each task yields a few times), and checks that every task ended
// as expected, that the live heap did not grow while draining, that it went
// back to where it was after Shutdown, and that no goroutine is left.
func Soak(cfg SoakConfig) *SoakReport {
	if cfg.Tasks <= 0 {
		cfg.Tasks = 1_000_000
	}
	if cfg.Cap <= 0 {
		cfg.Cap = 4
	}
	if cfg.Probes <= 0 {
		cfg.Probes = 1_000
	}
	cfg.Probes = min(cfg.Probes, cfg.Tasks/4)
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	v := &tally{}
	rep := &SoakReport{Tasks: cfg.Tasks, GoroutinesBefore: runtime.NumGoroutine()}
	stopSampler := sampleHeap(&rep.PeakHeapInuse)

	handles := make([]*lazytask.Task[int], cfg.Tasks)
	rep.HeapBefore = liveHeap()

	s, err := scheduler.New(scheduler.WithLimit(1))
	if err != nil {
		panic("stress: scheduler.New: " + err.Error())
	}
	gate, started := make(chan struct{}), make(chan struct{})
	blocker, err := scheduler.Submit(s, func(context.Context) (int, error) {
		close(started)
		<-gate
		return 0, nil
	})
	if err != nil {
		panic("stress: Submit of the blocker: " + err.Error())
	}
	<-started

	work := func(context.Context) (int, error) {
		runtime.Gosched()
		runtime.Gosched()
		return 1, nil
	}
	t0 := time.Now()
	for i := range handles {
		h, err := scheduler.Submit(s, work)
		if err != nil {
			v.add("soak", "Submit %d = %v", i, err)
		}
		handles[i] = h
	}
	rep.SubmitNs = float64(time.Since(t0).Nanoseconds()) / float64(cfg.Tasks)
	rep.HeapPending = liveHeap()
	rep.BytesPerTask = float64(int64(rep.HeapPending)-int64(rep.HeapBefore)) / float64(cfg.Tasks)
	if st := s.Stats(); st.Queued != cfg.Tasks || st.Running != 1 {
		v.add("soak", "with %d tasks submitted behind the blocker: Stats() = %+v", cfg.Tasks, st)
	}

	// Promote, cancel and force random queued tasks with the queue full.
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x50a))
	idx := rng.Perm(cfg.Tasks)[:3*cfg.Probes]
	probe := func(ids []int, f func(h *lazytask.Task[int]) error) float64 {
		t0 := time.Now()
		for _, i := range ids {
			if err := f(handles[i]); err != nil {
				v.add("soak", "probe on queued task %d = %v", i, err)
			}
		}
		return float64(time.Since(t0).Nanoseconds()) / float64(len(ids))
	}
	rep.PromoteNs = probe(idx[:cfg.Probes], func(h *lazytask.Task[int]) error { return s.Promote(h) })
	rep.CancelNs = probe(idx[cfg.Probes:2*cfg.Probes], func(h *lazytask.Task[int]) error {
		if !h.Cancel(errCancel) {
			return errors.New("Cancel of a queued task = false")
		}
		return nil
	})
	rep.ForceNs = probe(idx[2*cfg.Probes:], func(h *lazytask.Task[int]) error { return s.Force(h) })
	canceled := make(map[int]bool, cfg.Probes)
	for _, i := range idx[cfg.Probes : 2*cfg.Probes] {
		canceled[i] = true
	}

	// The slow drain.
	t0 = time.Now()
	if err := s.Resize(cfg.Cap); err != nil {
		v.add("soak", "Resize(%d) = %v", cfg.Cap, err)
	}
	close(gate)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	if err := s.Wait(ctx); err != nil {
		v.add("soak", "Wait for the drain = %v; stats %+v", err, s.Stats())
	}
	cancel()
	rep.Drain = time.Since(t0)
	rep.HeapDrained = liveHeap()
	// A task that has ended must not cost more than a pending one: the live
	// heap stays within 10% (plus 1 MiB) of what the pending queue took.
	if grow := int64(rep.HeapDrained) - int64(rep.HeapPending); grow > int64(rep.HeapPending-rep.HeapBefore)/10+(1<<20) {
		v.add("soak", "the live heap grew by %d bytes while the queue drained", grow)
	}

	if err := s.Shutdown(context.Background()); err != nil {
		v.add("soak", "Shutdown = %v", err)
	}
	if st := s.Stats(); st.InUse != 0 || st.Running != 0 || st.Queued != 0 || st.OverCap != 0 {
		v.add("I5", "after Shutdown: %+v", st)
	}
	if _, err := blocker.Result(); err != nil {
		v.add("soak", "blocker ended with %v", err)
	}
	bad := 0
	for i, h := range handles {
		want := lazytask.Succeeded
		if canceled[i] {
			want = lazytask.Canceled
		}
		if st := h.State(); st != want {
			if bad++; bad <= 5 {
				v.add("I5", "task %d is %v after the drain; want %v", i, st, want)
			}
		}
	}
	handles = nil
	s, blocker = nil, nil
	rep.HeapAfter = liveHeap()
	if grow := int64(rep.HeapAfter) - int64(rep.HeapBefore); grow > 4<<20 {
		v.add("soak", "after Shutdown, with the handles dropped, the live heap is %d bytes above where it started", grow)
	}
	stopSampler()
	rep.GoroutinesAfter = settleGoroutines(rep.GoroutinesBefore, 10*time.Second)
	if rep.GoroutinesAfter > rep.GoroutinesBefore {
		v.add("I7", "%d goroutines after Shutdown; %d before:\n%s", rep.GoroutinesAfter, rep.GoroutinesBefore, goroutineDump(4096))
	}
	rep.Violations, rep.Samples = v.count(), v.samples
	return rep
}

// sampleHeap records the peak HeapInuse every 10 ms until the returned
// function is called.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		*peak = max(*peak, ms.HeapInuse)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		sample()
	}
}
