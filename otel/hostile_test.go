package lazyotel_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// hSpansByName returns the ended spans of the recorder by name.
func hSpansByName(r *rig) map[string][]sdktrace.ReadOnlySpan {
	out := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range r.rec.Ended() {
		out[s.Name()] = append(out[s.Name()], s)
	}
	return out
}

// hNoLeak checks that every span the SDK started has ended, exactly once,
// and that nothing ended that never started.
func hNoLeak(t *testing.T, r *rig) {
	t.Helper()
	started := map[trace.SpanID]string{}
	for _, s := range r.rec.Started() {
		started[s.SpanContext().SpanID()] = s.Name()
	}
	ended := map[trace.SpanID]int{}
	for _, s := range r.rec.Ended() {
		ended[s.SpanContext().SpanID()]++
	}
	for id, name := range started {
		assert.Equal(t, 1, ended[id], "times span %s (%q) ended", id, name)
	}
	for id := range ended {
		_, ok := started[id]
		assert.True(t, ok, "span %s ended but never started", id)
	}
	assert.Len(t, r.rec.Ended(), len(r.rec.Started()), "ended spans against started spans")
}

// hTaskCounts returns lazysched.tasks by scope and outcome.
func hTaskCounts(t *testing.T, r *rig) map[scopeOutcome]int64 {
	t.Helper()
	got := r.collect(t)
	counts := map[scopeOutcome]int64{}
	if got["lazysched.tasks"] == nil {
		return counts
	}
	sum, ok := got["lazysched.tasks"].(metricdata.Sum[int64])
	require.True(t, ok, "lazysched.tasks is an int64 sum: %T", got["lazysched.tasks"])
	for _, dp := range sum.DataPoints {
		if dp.Value != 0 {
			counts[keyOf(dp.Attributes)] += dp.Value
		}
	}
	return counts
}

// hHistCounts returns a histogram's sample counts by scope and outcome.
func hHistCounts(t *testing.T, r *rig, name string) map[scopeOutcome]uint64 {
	t.Helper()
	got := r.collect(t)
	out := map[scopeOutcome]uint64{}
	if got[name] == nil {
		return out
	}
	h, ok := got[name].(metricdata.Histogram[float64])
	require.True(t, ok, "%s is a float64 histogram: %T", name, got[name])
	for _, dp := range h.DataPoints {
		if dp.Count != 0 {
			out[keyOf(dp.Attributes)] += dp.Count
		}
	}
	return out
}

// hOutcome is the outcome the otel package must report for a handle.
func hOutcome(h lazytask.Handle) string {
	if h.State() != lazytask.Succeeded && h.Info().Rejected {
		return "rejected"
	}
	switch h.State() {
	case lazytask.Succeeded:
		return "succeeded"
	case lazytask.Canceled:
		return "canceled"
	}
	if _, ok := errors.AsType[*lazytask.PanicError](h.Err()); ok {
		return "panicked"
	}
	return "failed"
}

func TestHostileQueuedTasksCanceledEndTheirSpansExactlyOnce(t *testing.T) {
	r := newRig(t)
	s := r.sched(t, scheduler.WithLimit(1))
	hold, release := make(chan struct{}), make(chan struct{})
	holder, err := scheduler.Go(s, func(context.Context) error { close(hold); <-release; return nil }, lazytask.WithName("holder"))
	require.NoError(t, err)
	<-hold

	reqCtx, req := r.tp.Tracer("test").Start(context.Background(), "request")
	carried, cancelCarried := context.WithCancelCause(reqCtx)
	errCarried := errors.New("request aborted")
	const n = 12
	var ran atomic.Int32
	hs := make([]*lazytask.Task[struct{}], n)
	causes := map[int]error{}
	for i := range n {
		opts := []lazytask.Option{lazytask.WithName(fmt.Sprintf("q%02d", i))}
		switch i % 3 {
		case 0: // canceled by hand; it carries the request's values only
			opts = append(opts, lazytask.WithValues(reqCtx))
		case 1: // canceled with the context it carries
			opts = append(opts, lazytask.WithContext(carried))
		case 2: // runs
			opts = append(opts, lazytask.WithContext(reqCtx))
		}
		h, err := scheduler.Go(s, func(context.Context) error { ran.Add(1); return nil }, opts...)
		require.NoError(t, err)
		require.Equal(t, lazytask.Queued, h.State(), "task %d waits behind the holder", i)
		hs[i] = h
	}
	for i := 0; i < n; i += 3 {
		causes[i] = fmt.Errorf("cause %d", i)
		require.True(t, hs[i].Cancel(causes[i]), "Cancel of queued task %d", i)
		assert.False(t, hs[i].Cancel(errors.New("again")), "a second Cancel of task %d", i)
	}
	cancelCarried(errCarried)
	for i := 1; i < n; i += 3 {
		select {
		case <-hs[i].Done():
		case <-bounded(t).Done():
			t.Fatalf("task %d was not canceled with its carried context", i)
		}
	}
	close(release)
	require.NoError(t, holder.Wait(bounded(t)))
	for i := 2; i < n; i += 3 {
		require.NoError(t, hs[i].Wait(bounded(t)), "task %d", i)
	}
	req.End()
	shutdown(t, s)

	assert.Equal(t, int32(n/3), ran.Load(), "functions run: only the tasks never canceled")
	hNoLeak(t, r)
	byName := hSpansByName(r)
	reqID := r.span(t, "request").SpanContext().SpanID()
	for i, h := range hs {
		name := fmt.Sprintf("q%02d", i)
		require.Len(t, byName[name], 1, "spans of %s", name)
		sp := byName[name][0]
		got := attrs(sp)
		assert.Equal(t, reqID, sp.Parent().SpanID(), "parent of %s", name)
		assert.Equal(t, codes.Unset, sp.Status().Code, "status of %s", name)
		tm := h.Timings()
		assert.Equal(t, tm.Queued, sp.StartTime(), "start of %s = its queueing", name)
		assert.Equal(t, tm.Finished, sp.EndTime(), "end of %s = its end", name)
		if i%3 == 2 {
			assert.Equal(t, "succeeded", got["lazysched.task.outcome"].AsString(), "outcome of %s", name)
			assert.Greater(t, got["lazysched.task.queue_time"].AsFloat64(), 0.0, "queue time of %s", name)
			continue
		}
		assert.Equal(t, "canceled", got["lazysched.task.outcome"].AsString(), "outcome of %s", name)
		_, hasQueueTime := got["lazysched.task.queue_time"]
		assert.False(t, hasQueueTime, "queue time of %s, which never started", name)
		assert.Empty(t, sp.Events(), "events of %s, canceled in its queue", name)
		want := errCarried
		if i%3 == 0 {
			want = causes[i]
		}
		require.ErrorIs(t, h.Err(), want, "error of %s", name)
		assert.Equal(t, h.Err().Error(), got["lazysched.task.cancel_cause"].AsString(), "cancel cause of %s", name)
		assert.Contains(t, got["lazysched.task.cancel_cause"].AsString(), want.Error(), "cancel cause of %s", name)
	}
	assert.Equal(t, map[scopeOutcome]int64{{"root", "succeeded"}: 1 + n/3, {"root", "canceled"}: n - n/3},
		hTaskCounts(t, r), "tasks by outcome")
	assert.Equal(t, map[scopeOutcome]uint64{{"root", "succeeded"}: 1 + n/3},
		hHistCounts(t, r, "lazysched.task.run_time"), "run times: none for tasks that never ran")
	assert.Equal(t, map[scopeOutcome]uint64{{"root", ""}: 1 + n/3},
		hHistCounts(t, r, "lazysched.task.queue_time"), "queue times: none for tasks that never started")
}

// hPanicValue is a panic value of a named type of this package.
type hPanicValue struct{ code int }

func TestHostileFailureModesAreToldApart(t *testing.T) {
	errStep := errors.New("step failed")
	errGiveUp := errors.New("given up")
	type want struct {
		outcome, desc, excType string
		status                 codes.Code
	}
	cases := []struct {
		name string
		fn   func(ctx context.Context) error
		opts []lazytask.Option
		want want
	}{
		{name: "goexit", fn: func(context.Context) error { runtime.Goexit(); return nil },
			want: want{outcome: "failed", status: codes.Error, desc: lazytask.ErrGoexit.Error()}},
		{name: "own-timeout", fn: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			opts: []lazytask.Option{lazytask.WithTimeout(time.Millisecond)},
			want: want{outcome: "failed", status: codes.Error, desc: context.DeadlineExceeded.Error()}},
		{name: "timeout-then-success", fn: func(ctx context.Context) error { <-ctx.Done(); return nil },
			opts: []lazytask.Option{lazytask.WithTimeout(time.Millisecond)},
			want: want{outcome: "succeeded", status: codes.Unset}},
		{name: "returns-canceled-on-its-own", fn: func(context.Context) error { return fmt.Errorf("rpc: %w", context.Canceled) },
			want: want{outcome: "failed", status: codes.Error, desc: "rpc: context canceled"}},
		{name: "wrapped", fn: func(context.Context) error { return fmt.Errorf("job 7: %w", errStep) },
			want: want{outcome: "failed", status: codes.Error, desc: "job 7: step failed"}},
		{name: "panic-named-type", fn: func(context.Context) error { panic(hPanicValue{code: 7}) },
			want: want{outcome: "panicked", status: codes.Error, desc: "panic: {7}",
				excType: "github.com/lazysched/lazysched/otel_test.hPanicValue"}},
		{name: "panic-nil", fn: func(context.Context) error { panic(nil) },
			want: want{outcome: "panicked", status: codes.Error, excType: "*runtime.PanicNilError"}},
		{name: "self-cancel-with-cause", fn: func(ctx context.Context) error {
			lazytask.HandleOf(ctx).Cancel(errGiveUp)
			return context.Cause(ctx)
		}, want: want{outcome: "canceled", status: codes.Unset}},
	}
	r := newRig(t)
	s := r.sched(t, scheduler.WithLimit(2))
	hs := map[string]lazytask.Handle{}
	for _, c := range cases {
		h, err := scheduler.Go(s, c.fn, append([]lazytask.Option{lazytask.WithName(c.name)}, c.opts...)...)
		require.NoError(t, err)
		hs[c.name] = h
	}
	for _, h := range hs {
		_ = h.Wait(bounded(t))
	}
	shutdown(t, s)

	require.ErrorIs(t, hs["goexit"].Err(), lazytask.ErrGoexit, "error of the task that called Goexit")
	require.ErrorIs(t, hs["own-timeout"].Err(), context.DeadlineExceeded, "error of the task past its timeout")
	hNoLeak(t, r)
	wantCounts := map[scopeOutcome]int64{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sp := r.span(t, c.name)
			got := attrs(sp)
			h := hs[c.name]
			assert.Equal(t, hOutcome(h), c.want.outcome, "the handle's end agrees with the case")
			assert.Equal(t, c.want.outcome, got["lazysched.task.outcome"].AsString(), "outcome")
			assert.Equal(t, c.want.status, sp.Status().Code, "status code")
			if c.want.desc != "" {
				assert.Equal(t, c.want.desc, sp.Status().Description, "status description")
			}
			switch c.want.outcome {
			case "failed":
				ev := exception(t, sp)
				assert.Equal(t, h.Err().Error(), ev["exception.message"].AsString(), "exception.message")
			case "panicked":
				ev := exception(t, sp)
				assert.Equal(t, c.want.excType, ev["exception.type"].AsString(), "exception.type")
				assert.NotEmpty(t, ev["exception.stacktrace"].AsString(), "exception.stacktrace")
			case "canceled":
				assert.Equal(t, h.Err().Error(), got["lazysched.task.cancel_cause"].AsString(), "cancel cause")
				assert.Contains(t, got["lazysched.task.cancel_cause"].AsString(), errGiveUp.Error(), "cancel cause")
				assert.Empty(t, sp.Events(), "events of a cancellation")
			default:
				assert.Empty(t, sp.Events(), "events of a success")
				_, ok := got["lazysched.task.cancel_cause"]
				assert.False(t, ok, "cancel cause of a success")
			}
			tm := h.Timings()
			assert.Equal(t, tm.Finished, sp.EndTime(), "span end = the task's end")
			assert.False(t, tm.Started.IsZero(), "the task started")
		})
		wantCounts[scopeOutcome{"root", c.want.outcome}]++
	}
	assert.Equal(t, wantCounts, hTaskCounts(t, r), "tasks by outcome")
	runs := map[scopeOutcome]uint64{}
	for k, v := range wantCounts {
		runs[k] = uint64(v)
	}
	assert.Equal(t, runs, hHistCounts(t, r, "lazysched.task.run_time"), "run times by outcome: every case ran")
}

func TestHostileForceRunLazyAndRejectedTasksKeepTheirSpansHonest(t *testing.T) {
	r := newRig(t)
	s := r.sched(t, scheduler.WithLimit(1))
	hold, release := make(chan struct{}), make(chan struct{})
	holder, err := scheduler.Go(s, func(context.Context) error { close(hold); <-release; return nil }, lazytask.WithName("holder"))
	require.NoError(t, err)
	<-hold

	// A Lazy task started by hand while the only slot is taken runs over the cap.
	forced := scheduler.NewTask(s, func(context.Context) (int, error) { return 1, nil }, lazytask.WithName("lazy-forced"))
	require.Equal(t, lazytask.Lazy, forced.State())
	require.NoError(t, forced.Start(), "Start of a Lazy task")
	require.NoError(t, forced.Wait(bounded(t)))
	// A Lazy task canceled before it was ever handed over.
	lazy := scheduler.NewTask(s, func(context.Context) (int, error) { return 1, nil }, lazytask.WithName("lazy-canceled"))
	require.True(t, lazy.Cancel(nil), "Cancel of a Lazy task")
	// A task refused at submit: heavier than the cap.
	heavy, err := scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithName("too-heavy"), lazytask.WithWeight(5))
	require.ErrorIs(t, err, scheduler.ErrWeightTooLarge)
	// A queued task force-run by Force, and a queued one promoted past a
	// higher priority.
	high, err := scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithName("high"), lazytask.WithPriority(9))
	require.NoError(t, err)
	low, err := scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithName("low-promoted"), lazytask.WithPriority(-9))
	require.NoError(t, err)
	require.NoError(t, s.Promote(low))
	close(release)
	for _, h := range []lazytask.Handle{holder, high, low} {
		require.NoError(t, h.Wait(bounded(t)))
	}
	shutdown(t, s)

	hNoLeak(t, r)
	f := attrs(r.span(t, "lazy-forced"))
	assert.True(t, forced.Info().OverCap, "Info().OverCap of a Lazy task started over the cap")
	assert.True(t, f["lazysched.task.forced"].AsBool(), "forced of a Lazy task started over the cap")
	assert.Equal(t, "succeeded", f["lazysched.task.outcome"].AsString())

	lc := r.span(t, "lazy-canceled")
	assert.Equal(t, "canceled", attrs(lc)["lazysched.task.outcome"].AsString(), "outcome of a Lazy task canceled")
	assert.Equal(t, lazy.Timings().Created, lc.StartTime(), "a never-queued task's span starts at its creation")
	assert.False(t, lc.StartTime().After(lc.EndTime()), "span of the Lazy task ends after it starts")

	assert.Equal(t, lazytask.Failed, heavy.State(), "state of a task refused as too heavy")
	hv := hSpansByName(r)["too-heavy"]
	// The hooks saw it queued (OnQueue), so its span closes too.
	require.Len(t, hv, 1, "spans of the refused task")
	assert.Equal(t, hOutcome(heavy), attrs(hv[0])["lazysched.task.outcome"].AsString(), "outcome of the refused task's span agrees with its handle")

	hi, lo := r.span(t, "high"), r.span(t, "low-promoted")
	assert.True(t, attrs(lo)["lazysched.task.promoted"].AsBool(), "promoted of the promoted task")
	assert.False(t, attrs(hi)["lazysched.task.promoted"].AsBool(), "promoted of the other")
	assert.True(t, low.Timings().Started.Before(high.Timings().Started) || low.Timings().Started.Equal(high.Timings().Started),
		"the promoted task started first")

	// Every task the hooks saw end is counted once, as its handle ended.
	want := map[scopeOutcome]int64{}
	for _, h := range []lazytask.Handle{holder, forced, lazy, high, low} {
		want[scopeOutcome{"root", hOutcome(h)}]++
	}
	want[scopeOutcome{"root", hOutcome(heavy)}]++
	assert.Equal(t, want, hTaskCounts(t, r), "tasks by outcome")
}

func TestHostileOddCarriedParents(t *testing.T) {
	r := newRig(t)
	s := r.sched(t, scheduler.WithLimit(2))
	tr := r.tp.Tracer("test")

	endedCtx, ended := tr.Start(context.Background(), "ended-parent")
	ended.End()
	traceID := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	remote := trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID,
		SpanID: trace.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, TraceFlags: trace.FlagsSampled, Remote: true})
	unsampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, 2, 3},
		SpanID: trace.SpanID{4, 5, 6}, Remote: true})
	localNonRecording := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{7, 7, 7},
		SpanID: trace.SpanID{8, 8, 8}, TraceFlags: trace.FlagsSampled})
	cases := map[string]context.Context{
		"under-ended":        endedCtx,
		"under-remote":       trace.ContextWithRemoteSpanContext(context.Background(), remote),
		"under-unsampled":    trace.ContextWithRemoteSpanContext(context.Background(), unsampled),
		"under-nonrecording": trace.ContextWithSpanContext(context.Background(), localNonRecording),
	}
	seen := map[string]trace.SpanContext{}
	var mu sync.Mutex
	var hs []lazytask.Handle
	for name, ctx := range cases {
		h, err := scheduler.Go(s, func(ctx context.Context) error {
			mu.Lock()
			seen[name] = trace.SpanContextFromContext(ctx)
			mu.Unlock()
			_, inner := tr.Start(ctx, name+".inner")
			inner.End()
			return nil
		}, lazytask.WithValues(ctx), lazytask.WithName(name))
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for _, h := range hs {
		require.NoError(t, h.Wait(bounded(t)))
	}
	shutdown(t, s)
	hNoLeak(t, r)

	e := r.span(t, "under-ended")
	assert.Equal(t, ended.SpanContext().SpanID(), e.Parent().SpanID(), "parent of a task under an ended span")
	assert.Equal(t, ended.SpanContext().TraceID(), e.SpanContext().TraceID(), "trace of a task under an ended span")
	assert.Equal(t, e.SpanContext().SpanID(), r.span(t, "under-ended.inner").Parent().SpanID(), "inner span under the task's")

	rm := r.span(t, "under-remote")
	assert.Equal(t, remote.SpanID(), rm.Parent().SpanID(), "parent of a task under a remote span")
	assert.True(t, rm.Parent().IsRemote(), "the parent is remote")
	assert.Equal(t, traceID, rm.SpanContext().TraceID(), "trace of a task under a remote span")
	assert.False(t, rm.SpanContext().IsRemote(), "the task's own span is local")
	assert.Equal(t, rm.SpanContext().SpanID(), r.span(t, "under-remote.inner").Parent().SpanID(), "inner span under the task's")

	nr := r.span(t, "under-nonrecording")
	assert.Equal(t, localNonRecording.SpanID(), nr.Parent().SpanID(), "parent of a task under a non-recording span")
	assert.Equal(t, localNonRecording.TraceID(), nr.SpanContext().TraceID(), "trace of a task under a non-recording span")

	// Under an unsampled parent the SDK's default sampler records nothing,
	// but the task's function still gets a span context of the same trace,
	// its own.
	byName := hSpansByName(r)
	assert.Empty(t, byName["under-unsampled"], "spans recorded under an unsampled parent")
	assert.Empty(t, byName["under-unsampled.inner"], "inner spans recorded under an unsampled parent")
	got := seen["under-unsampled"]
	assert.Equal(t, unsampled.TraceID(), got.TraceID(), "trace the function sees under an unsampled parent")
	assert.True(t, got.SpanID().IsValid(), "span id the function sees under an unsampled parent")
	assert.NotEqual(t, unsampled.SpanID(), got.SpanID(), "the function sees the task's span, not the parent")
	assert.False(t, got.IsSampled(), "the task's span under an unsampled parent is unsampled")
	for _, name := range []string{"under-ended", "under-remote", "under-nonrecording"} {
		assert.Equal(t, byName[name][0].SpanContext(), seen[name], "span context %s's function sees is its task's span", name)
	}
	// Sampled out or not, every task is counted.
	assert.Equal(t, map[scopeOutcome]int64{{"root", "succeeded"}: int64(len(cases))}, hTaskCounts(t, r), "tasks counted")
}

func TestHostileShutdownWithBacklogEndsEverySpanAndCountsAddUp(t *testing.T) {
	r := newRig(t)
	s := r.sched(t, scheduler.WithLimit(2))
	jobs, err := s.Root().NewScope(scheduler.WithName("jobs"), scheduler.WithLimit(1))
	require.NoError(t, err)
	started := make(chan struct{}, 2)
	block := func(ctx context.Context) error { started <- struct{}{}; <-ctx.Done(); return ctx.Err() }
	var hs []lazytask.Handle
	add := func(sp scheduler.Spawner, fn func(context.Context) error, name string) {
		h, err := scheduler.Go(sp, fn, lazytask.WithName(name))
		require.NoError(t, err)
		hs = append(hs, h)
	}
	add(s, block, "run-root")
	add(jobs, block, "run-jobs")
	<-started
	<-started
	for i := range 15 {
		add(s, func(context.Context) error { return nil }, fmt.Sprintf("backlog-root-%d", i))
		add(jobs, func(context.Context) error { return nil }, fmt.Sprintf("backlog-jobs-%d", i))
	}
	lazyTask := scheduler.NewTask(jobs, func(context.Context) (int, error) { return 0, nil }, lazytask.WithName("lazy"))
	hs = append(hs, lazyTask)
	assert.Equal(t, 30, s.Stats().Queued, "backlog before Shutdown")

	graceOver, cancel := context.WithCancel(context.Background())
	cancel() // no grace: cancel everything at once
	err = s.Shutdown(graceOver)
	require.ErrorIs(t, err, context.Canceled, "Shutdown with its grace period over")

	hNoLeak(t, r)
	byName := hSpansByName(r)
	want := map[scopeOutcome]int64{}
	for _, h := range hs {
		require.True(t, h.State().Terminal(), "%s ended by Shutdown", h.Name())
		require.Len(t, byName[h.Name()], 1, "spans of %s", h.Name())
		sp := byName[h.Name()][0]
		got := attrs(sp)
		assert.Equal(t, hOutcome(h), got["lazysched.task.outcome"].AsString(), "outcome of %s", h.Name())
		if h.State() == lazytask.Canceled {
			assert.Equal(t, h.Err().Error(), got["lazysched.task.cancel_cause"].AsString(), "cancel cause of %s", h.Name())
		}
		want[scopeOutcome{got["lazysched.scope"].AsString(), hOutcome(h)}]++
	}
	counts := hTaskCounts(t, r)
	assert.Equal(t, want, counts, "tasks by scope and outcome, as their handles ended")
	var total int64
	for k, v := range counts {
		total += v
		assert.NotEqual(t, "succeeded", k.outcome, "no task succeeded: %v %d", k, v)
	}
	assert.Equal(t, int64(len(hs)), total, "tasks counted against tasks made")
	assert.Equal(t, int64(16), counts[scopeOutcome{"root", "canceled"}], "canceled in root: the running one and its backlog")
	st := s.Stats()
	assert.Equal(t, uint64(total), st.Succeeded+st.Failed+st.Canceled, "the scheduler's totals against the metric's")
	g := gauges(t, r)
	for _, sc := range []string{"root", "root/jobs"} {
		assert.Equal(t, int64(0), g[sc]["queued"], "queued of %s after Shutdown", sc)
		assert.Equal(t, int64(0), g[sc]["running"], "running of %s after Shutdown", sc)
		assert.Equal(t, int64(0), g[sc]["in_use"], "in_use of %s after Shutdown", sc)
	}
	assert.Equal(t, int64(1), g["root/jobs"]["limit"], "the jobs scope is still observed")
	runtime.KeepAlive(jobs)
}

func TestHostileTasksSubmittedFromATaskAreChildrenOfItsSpan(t *testing.T) {
	r := newRig(t)
	s := r.sched(t, scheduler.WithLimit(2))
	parent, err := scheduler.Go(s, func(ctx context.Context) error {
		var kids []lazytask.Handle
		for i := range 3 {
			k, err := scheduler.Go(s, func(ctx context.Context) error {
				g, err := scheduler.Go(s, func(context.Context) error { return nil },
					lazytask.WithContext(ctx), lazytask.WithName(fmt.Sprintf("grandchild-%d", i)))
				if err != nil {
					return err
				}
				return g.Wait(ctx)
			}, lazytask.WithContext(ctx), lazytask.WithName(fmt.Sprintf("child-%d", i)))
			if err != nil {
				return err
			}
			kids = append(kids, k)
		}
		for _, k := range kids {
			if err := k.Wait(ctx); err != nil {
				return err
			}
		}
		return nil
	}, lazytask.WithName("parent"))
	require.NoError(t, err)
	require.NoError(t, parent.Wait(bounded(t)))
	shutdown(t, s)

	hNoLeak(t, r)
	p := r.span(t, "parent")
	assert.False(t, p.Parent().IsValid(), "the parent task's span is a root")
	assert.Equal(t, "parent", attrs(p)["lazysched.task.name"].AsString(), "name attribute of the parent's span")
	for i := range 3 {
		c := r.span(t, fmt.Sprintf("child-%d", i))
		g := r.span(t, fmt.Sprintf("grandchild-%d", i))
		assert.Equal(t, p.SpanContext().SpanID(), c.Parent().SpanID(), "parent of child-%d", i)
		assert.Equal(t, c.SpanContext().SpanID(), g.Parent().SpanID(), "parent of grandchild-%d", i)
		assert.Equal(t, p.SpanContext().TraceID(), g.SpanContext().TraceID(), "trace of grandchild-%d", i)
		assert.Equal(t, fmt.Sprintf("child-%d", i), attrs(c)["lazysched.task.name"].AsString(), "name attribute of child-%d", i)
		assert.False(t, p.EndTime().Before(c.EndTime()), "the parent's span ends after child-%d's", i)
	}
	assert.Equal(t, map[scopeOutcome]int64{{"root", "succeeded"}: 7}, hTaskCounts(t, r), "tasks counted")
}

// A task that submits a child carrying its context and cancels it while it
// waits: the child's span must be its own, under the parent's, and the
// parent's span must stay the parent's.
func TestHostileChildCanceledInItsQueueGetsItsOwnSpan(t *testing.T) {
	r := newRig(t)
	s := r.sched(t, scheduler.WithLimit(1))
	var child lazytask.Handle
	parent, err := scheduler.Go(s, func(ctx context.Context) error {
		k, err := scheduler.Go(s, func(context.Context) error { return nil },
			lazytask.WithContext(ctx), lazytask.WithName("child"), lazytask.WithLabel("who", "child"))
		if err != nil {
			return err
		}
		child = k
		if k.State() != lazytask.Queued {
			return fmt.Errorf("child is %v, not queued behind its parent", k.State())
		}
		k.Cancel(errors.New("not needed"))
		return nil
	}, lazytask.WithName("parent"))
	require.NoError(t, err)
	require.NoError(t, parent.Wait(bounded(t)))
	shutdown(t, s)
	require.Equal(t, lazytask.Canceled, child.State(), "the child was canceled in its queue")

	byName := hSpansByName(r)
	require.Len(t, byName["parent"], 1, "spans named parent")
	p := byName["parent"][0]
	pa := attrs(p)
	hNoLeak(t, r)
	require.Len(t, byName["child"], 1, "spans named child")
	c := byName["child"][0]
	assert.Equal(t, p.SpanContext().SpanID(), c.Parent().SpanID(), "parent of the canceled child")
	assert.Equal(t, "canceled", attrs(c)["lazysched.task.outcome"].AsString(), "outcome of the canceled child")
	assert.Equal(t, "parent", pa["lazysched.task.name"].AsString(), "name attribute of the parent's span")
	assert.Equal(t, "succeeded", pa["lazysched.task.outcome"].AsString(), "outcome of the parent")
	assert.Equal(t, parent.Timings().Finished, p.EndTime(), "the parent's span ends with the parent")
}

// Two Observers (two tracer providers, say a local one and an exporter's)
// on one scheduler: each traces every task once and ends every span.
func TestHostileTwoObserversOnOneSchedulerEachEndTheirOwnSpans(t *testing.T) {
	a, b := newRig(t), newRig(t)
	s, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithHooks(a.obs.Hooks()), scheduler.WithHooks(b.obs.Hooks()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	var hs []lazytask.Handle
	for i := range 4 {
		h, err := scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithName(fmt.Sprintf("t%d", i)))
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for _, h := range hs {
		require.NoError(t, h.Wait(bounded(t)))
	}
	shutdown(t, s)

	for name, r := range map[string]*rig{"first": a, "second": b} {
		assert.Len(t, r.rec.Started(), len(hs), "spans the %s observer started", name)
		assert.Equal(t, map[scopeOutcome]int64{{"root", "succeeded"}: int64(len(hs))}, hTaskCounts(t, r), "tasks the %s observer counted", name)
	}
	for name, r := range map[string]*rig{"first": a, "second": b} {
		hNoLeak(t, r)
		for _, h := range hs {
			sp := r.span(t, h.Name())
			assert.Equal(t, "succeeded", attrs(sp)["lazysched.task.outcome"].AsString(), "outcome of %s in the %s observer", h.Name(), name)
		}
	}
}

func TestHostileConcurrentSubmittersSpanAndCountEveryTask(t *testing.T) {
	const submitters, each = 8, 200
	r := newRig(t)
	s := r.sched(t, scheduler.WithLimit(4))
	scopes := make([]*scheduler.Scope, 2)
	for i := range scopes {
		sc, err := s.Root().NewScope(scheduler.WithName(fmt.Sprintf("part%d", i)))
		require.NoError(t, err)
		scopes[i] = sc
	}
	tr := r.tp.Tracer("test")
	waitCtx := bounded(t)
	var wg sync.WaitGroup
	handles := make([][]lazytask.Handle, submitters)
	parents := make([]trace.SpanID, submitters)
	errs := make(chan error, submitters)
	for g := range submitters {
		wg.Go(func() {
			ctx, sp := tr.Start(context.Background(), fmt.Sprintf("submitter-%d", g))
			defer sp.End()
			parents[g] = sp.SpanContext().SpanID()
			for i := range each {
				fn := func(ctx context.Context) error {
					switch i % 4 {
					case 1:
						return errBadInput
					case 2:
						panic("boom")
					case 3:
						lazytask.HandleOf(ctx).Cancel(nil)
						return ctx.Err()
					}
					return nil
				}
				h, err := scheduler.Go(scopes[(g+i)%2], fn, lazytask.WithContext(ctx), lazytask.WithName(fmt.Sprintf("g%d-%d", g, i)))
				if err != nil {
					errs <- err
					return
				}
				handles[g] = append(handles[g], h)
			}
			for _, h := range handles[g] {
				_ = h.Wait(waitCtx)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "Go from a submitter")
	}
	shutdown(t, s)

	hNoLeak(t, r)
	want := map[scopeOutcome]int64{}
	perParent := map[trace.SpanID]int{}
	byName := hSpansByName(r)
	for g := range submitters {
		require.Len(t, handles[g], each, "tasks of submitter %d", g)
		for _, h := range handles[g] {
			require.Len(t, byName[h.Name()], 1, "spans of %s", h.Name())
			sp := byName[h.Name()][0]
			perParent[sp.Parent().SpanID()]++
			sc := attrs(sp)["lazysched.scope"].AsString()
			assert.Equal(t, hOutcome(h), attrs(sp)["lazysched.task.outcome"].AsString(), "outcome of %s", h.Name())
			want[scopeOutcome{sc, hOutcome(h)}]++
		}
	}
	for g := range submitters {
		assert.Equal(t, each, perParent[parents[g]], "task spans under submitter %d", g)
	}
	assert.Len(t, r.rec.Ended(), submitters*each+submitters, "spans: one per task, one per submitter")
	counts := hTaskCounts(t, r)
	assert.Equal(t, want, counts, "tasks by scope and outcome")
	for _, sc := range []string{"root/part0", "root/part1"} {
		for _, oc := range []string{"succeeded", "failed", "panicked", "canceled"} {
			assert.Equal(t, int64(submitters*each/8), counts[scopeOutcome{sc, oc}], "%s %s", sc, oc)
		}
	}
	var runs uint64
	for _, n := range hHistCounts(t, r, "lazysched.task.run_time") {
		runs += n
	}
	assert.Equal(t, uint64(submitters*each), runs, "run times recorded: every task ran")
}

func TestHostileRefusedTasksAreRejectedInSpansAndCounts(t *testing.T) {
	r := newRig(t)
	s := r.sched(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
	hold, release := make(chan struct{}), make(chan struct{})
	holder, err := scheduler.Go(s, func(context.Context) error { close(hold); <-release; return nil }, lazytask.WithName("holder"))
	require.NoError(t, err)
	<-hold
	queued, err := scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithName("queued"))
	require.NoError(t, err)
	full, err := scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithName("queue-full"))
	require.ErrorIs(t, err, scheduler.ErrQueueFull)
	heavy, err := scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithName("too-heavy"), lazytask.WithWeight(2))
	require.ErrorIs(t, err, scheduler.ErrWeightTooLarge)
	close(release)
	for _, h := range []lazytask.Handle{holder, queued} {
		require.NoError(t, h.Wait(bounded(t)))
	}
	shutdown(t, s)
	closed, err := scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithName("after-close"))
	require.ErrorIs(t, err, scheduler.ErrClosed)

	hNoLeak(t, r)
	for _, c := range []struct {
		name string
		h    lazytask.Handle
	}{{"queue-full", full}, {"too-heavy", heavy}, {"after-close", closed}} {
		require.True(t, c.h.Info().Rejected, "Info().Rejected of %s", c.name)
		sp := r.span(t, c.name)
		a := attrs(sp)
		assert.Equal(t, "rejected", a["lazysched.task.outcome"].AsString(), "outcome of %s", c.name)
		assert.Equal(t, codes.Error, sp.Status().Code, "status of %s", c.name)
		assert.Contains(t, sp.Status().Description, c.h.Err().Error(), "status of %s names the refusal", c.name)
		_, ran := a["lazysched.task.queue_time"]
		assert.False(t, ran, "a refused task has no queue_time (%s)", c.name)
	}
	assert.Equal(t, map[scopeOutcome]int64{{"root", "succeeded"}: 2, {"root", "rejected"}: 3},
		hTaskCounts(t, r), "tasks by outcome agree with Stats")
	st := s.Stats()
	assert.Equal(t, uint64(3), st.Rejected, "Stats().Rejected")
	assert.Equal(t, uint64(0), st.Canceled+st.Failed, "Stats() Canceled+Failed")
}

// An Observer's hooks registered twice on a task's path (on the scheduler,
// then again on a child scope, which inherits them): each task that runs
// gets one span, ended once, and is counted once. Before, the second
// OnStart's span was never ended and every task was counted twice.
func TestHostileHooksRegisteredTwiceMakeOneSpanPerTask(t *testing.T) {
	r := newRig(t)
	s := r.sched(t, scheduler.WithLimit(2)) // the rig's hooks, once
	ch, err := s.Root().NewScope(scheduler.WithName("c"), scheduler.WithHooks(r.obs.Hooks()))
	require.NoError(t, err)
	for range 3 {
		h, err := scheduler.Go(ch, func(context.Context) error { return nil }, lazytask.WithName("twice"))
		require.NoError(t, err)
		require.NoError(t, h.Wait(context.Background()))
	}
	shutdown(t, s)
	hNoLeak(t, r)
	assert.Len(t, r.rec.Ended(), 3, "one span per task")
	var n int64
	for k, v := range hTaskCounts(t, r) {
		if k.outcome == "succeeded" {
			n += v
		}
	}
	assert.Equal(t, int64(3), n, "tasks counted as succeeded")
}

// A task that returns another task's PanicError failed; it did not panic:
// only the inner task is counted panicked.
func TestHostileATaskReturningAPanicErrorIsFailedNotPanicked(t *testing.T) {
	r := newRig(t)
	s := r.sched(t, scheduler.WithLimit(2))
	outer, err := scheduler.Go(s, func(ctx context.Context) error {
		in, err := scheduler.Go(s, func(context.Context) error { panic("inner") })
		if err != nil {
			return err
		}
		return in.Wait(ctx)
	})
	require.NoError(t, err)
	var pe *lazytask.PanicError
	require.ErrorAs(t, outer.Wait(context.Background()), &pe)
	shutdown(t, s)
	got := map[string]int64{}
	for k, v := range hTaskCounts(t, r) {
		got[k.outcome] += v
	}
	assert.Equal(t, map[string]int64{"panicked": 1, "failed": 1}, got, "tasks by outcome")
}
