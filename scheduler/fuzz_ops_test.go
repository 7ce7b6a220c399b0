package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// FuzzSchedulerOps decodes its input into a sequence of operations on a
// scheduler with a small cap: submit, make a Lazy task (bound with NewTask
// or unbound), enqueue, cancel, promote, force-run, resize, release a
// running task, await with an ended context. Each task blocks on a channel
// of its own until the input releases it. Everything runs in a synctest
// bubble, so after each operation every goroutine has settled and the
// scheduler must agree exactly with a plain model: the state and error of
// every task, the counters, and which tasks started, in which order when
// the cap is 1 (priority first, FIFO among equals, promoted tasks ahead of
// all in promote order).
//
// The input: byte 0 sets the cap (1 to 3); then each pair of bytes is one
// operation, the first byte choosing it and the second its argument.
func FuzzSchedulerOps(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 4, 0, 8, 0, 2})                          // priorities on a cap of 1
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 4, 2, 4, 1, 7, 0, 7, 1, 7, 2})  // promote order
	f.Add([]byte{1, 0, 8, 0, 16, 0, 0, 5, 1, 3, 0, 7, 0, 6, 0, 7, 2}) // weights, force, resize
	f.Add([]byte{0, 1, 0, 1, 1, 2, 0, 5, 1, 3, 1, 0, 0, 8, 2, 7, 3})  // lazy tasks
	f.Add([]byte{2, 0, 24, 0, 0, 6, 0, 3, 1, 8, 0, 7, 0, 9, 0})       // weight over the cap, cancel running
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 512 {
			return
		}
		synctest.Test(t, func(t *testing.T) { fzRun(t, data) })
	})
}

const (
	fzMaxTasks = 24
	fzOps      = 10
)

// fzTrace logs every step (LAZYSCHED_FUZZ_TRACE=1), to read a failing
// input.
var fzTrace = os.Getenv("LAZYSCHED_FUZZ_TRACE") == "1"

var (
	errFzCancel = errors.New("fuzz: canceled")
	errFzAwait  = errors.New("fuzz: await context ended")
)

// fzTask is the model of one task, beside its handle.
type fzTask struct {
	idx      int
	h        *lazytask.Task[int]
	release  chan struct{}
	released bool

	state    lazytask.State
	err      error // once terminal
	prio     int
	weight   int
	bound    bool // made by NewTask (bound Lazy) rather than lazytask.New
	inSched  bool // known to the scheduler: its counters include it
	seq      int  // queue order
	promoted int  // promote order, 0 if not promoted
	forced   bool // running over the cap
	alone    bool // started with Start outside the scheduler (unbound)
	canceled bool // its context was canceled while it ran
}

type fzModel struct {
	t     *testing.T
	s     *scheduler.Scheduler
	cap   int
	tasks []*fzTask
	seq   int
	proms int
	step  string

	// expected counters
	created, rejected                                           uint64
	submitted, succeeded, failed, canceled, forceRuns, promoted uint64

	// started is the model's start order of this step; log the real one.
	started []int
	mu      sync.Mutex
	log     []int
}

func fzRun(t *testing.T, data []byte) {
	m := &fzModel{t: t, cap: 1 + int(data[0])%3}
	s, err := scheduler.New(scheduler.WithLimit(m.cap), scheduler.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("New(WithLimit(%d)) = %v", m.cap, err)
	}
	m.s = s
	ops := data[1:]
	for i := 0; i+1 < len(ops); i += 2 {
		m.apply(ops[i]%fzOps, ops[i+1])
		if fzTrace {
			t.Logf("step %d: %s", i/2, m.step)
		}
		m.settle()
	}
	m.finish()
}

// apply runs one operation on the scheduler and on the model.
func (m *fzModel) apply(op, a byte) {
	m.started = m.started[:0]
	m.mu.Lock()
	m.log = m.log[:0]
	m.mu.Unlock()
	var tk *fzTask
	if len(m.tasks) > 0 {
		tk = m.tasks[int(a)%len(m.tasks)]
	}
	switch op {
	case 0: // submit
		if len(m.tasks) < fzMaxTasks {
			m.submit(int(a)%5-2, 1+int(a>>3)%4)
		}
	case 1: // a Lazy task: bound (NewTask) or unbound (lazytask.New)
		if len(m.tasks) < fzMaxTasks {
			m.newLazy(int(a>>1)%5-2, 1+int(a>>4)%3, a&1 == 0)
		}
	case 2:
		if tk != nil {
			m.enqueue(tk)
		}
	case 3:
		if tk != nil {
			m.cancel(tk)
		}
	case 4:
		if tk != nil {
			m.promote(tk)
		}
	case 5:
		if tk != nil {
			m.force(tk, a&0x80 != 0)
		}
	case 6:
		m.resize(1 + int(a)%4)
	case 7:
		if tk != nil {
			m.releaseTask(tk)
		}
	case 8:
		if tk != nil {
			m.await(tk)
		}
	case 9: // release every running task
		m.step = "release all running"
		for _, x := range m.tasks {
			if x.state == lazytask.Running {
				m.releaseTask(x)
			}
		}
	}
}

func (m *fzModel) newTask(prio, weight int, bound bool) *fzTask {
	tk := &fzTask{idx: len(m.tasks), release: make(chan struct{}), prio: prio, weight: weight, bound: bound}
	m.tasks = append(m.tasks, tk)
	return tk
}

// fn is the task's function: it logs its start and returns when released,
// or with its context's error when canceled.
func (m *fzModel) fn(tk *fzTask) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		m.mu.Lock()
		m.log = append(m.log, tk.idx)
		m.mu.Unlock()
		select {
		case <-tk.release:
			return tk.idx + 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func fzOpts(prio, weight int) []lazytask.Option {
	return []lazytask.Option{lazytask.WithPriority(prio), lazytask.WithWeight(weight)}
}

func (m *fzModel) submit(prio, weight int) {
	tk := m.newTask(prio, weight, false)
	m.step = fmt.Sprintf("Submit(task %d, prio %d, weight %d) with cap %d", tk.idx, prio, weight, m.cap)
	h, err := scheduler.Submit(m.s, m.fn(tk), fzOpts(prio, weight)...)
	tk.h = h
	m.created++
	if weight > m.cap {
		m.rejected++
		m.wantErr(err, scheduler.ErrWeightTooLarge)
		m.end(tk, lazytask.Failed, scheduler.ErrWeightTooLarge)
		return
	}
	m.wantErr(err, nil)
	m.submitted++
	tk.inSched = true
	m.push(tk)
	m.admit()
}

func (m *fzModel) newLazy(prio, weight int, bound bool) {
	tk := m.newTask(prio, weight, bound)
	if bound {
		m.step = fmt.Sprintf("NewTask(task %d, prio %d, weight %d)", tk.idx, prio, weight)
		tk.h = scheduler.NewTask(m.s, m.fn(tk), fzOpts(prio, weight)...)
		m.created++
	} else {
		m.step = fmt.Sprintf("lazytask.New(task %d, prio %d, weight %d)", tk.idx, prio, weight)
		tk.h = lazytask.New(m.fn(tk), fzOpts(prio, weight)...)
	}
	tk.state = lazytask.Lazy
}

func (m *fzModel) enqueue(tk *fzTask) {
	m.step = fmt.Sprintf("Enqueue(task %d, %v, weight %d) with cap %d", tk.idx, tk.state, tk.weight, m.cap)
	err := m.s.Enqueue(tk.h)
	switch {
	case tk.state != lazytask.Lazy && tk.weight > m.cap:
		// Both refusals apply; the doc gives no order.
		if !errors.Is(err, scheduler.ErrWeightTooLarge) {
			m.wantErr(err, scheduler.ErrNotQueued)
		}
	case tk.state != lazytask.Lazy:
		m.wantErr(err, scheduler.ErrNotQueued)
	case tk.weight > m.cap:
		m.wantErr(err, scheduler.ErrWeightTooLarge)
	default:
		m.wantErr(err, nil)
		m.submitted++
		if !tk.bound {
			m.created++
		}
		tk.inSched = true
		m.push(tk)
		m.admit()
	}
}

func (m *fzModel) cancel(tk *fzTask) {
	m.step = fmt.Sprintf("Cancel(task %d, %v)", tk.idx, tk.state)
	got := tk.h.Cancel(errFzCancel)
	want := false
	switch tk.state {
	case lazytask.Lazy:
		want = true
		if tk.bound {
			m.canceled++
			tk.inSched = true
		}
		m.end(tk, lazytask.Canceled, errFzCancel)
	case lazytask.Queued:
		want = true
		m.canceled++
		m.end(tk, lazytask.Canceled, errFzCancel)
		m.admit()
	case lazytask.Running:
		want = !tk.canceled
		tk.canceled = true
		m.finishRun(tk, lazytask.Canceled, context.Canceled)
	}
	if got != want {
		m.t.Errorf("%s = %v; want %v", m.step, got, want)
	}
}

func (m *fzModel) promote(tk *fzTask) {
	m.step = fmt.Sprintf("Promote(task %d, %v)", tk.idx, tk.state)
	err := m.s.Promote(tk.h)
	if tk.state != lazytask.Queued {
		m.wantErr(err, scheduler.ErrNotQueued)
		return
	}
	m.wantErr(err, nil)
	if tk.promoted == 0 {
		m.proms++
		tk.promoted = m.proms
		m.promoted++
	}
	m.admit()
}

func (m *fzModel) force(tk *fzTask, viaStart bool) {
	m.step = fmt.Sprintf("Force(task %d, %v, start %v)", tk.idx, tk.state, viaStart)
	var err error
	if viaStart {
		err = tk.h.Start()
	} else {
		err = m.s.Force(tk.h)
	}
	switch {
	case tk.state != lazytask.Lazy && tk.state != lazytask.Queued:
		if viaStart {
			m.wantErr(err, lazytask.ErrStarted)
		} else {
			m.wantErr(err, scheduler.ErrNotQueued)
		}
		return
	case viaStart && tk.state == lazytask.Lazy && !tk.bound:
		// An unbound task's Start runs it on its own goroutine, outside
		// any scheduler.
		m.wantErr(err, nil)
		tk.alone = true
	default:
		m.wantErr(err, nil)
		if tk.state == lazytask.Lazy {
			m.submitted++
			if !tk.bound {
				m.created++
			}
		}
		tk.inSched = true
		tk.forced = true
		m.forceRuns++
	}
	tk.state = lazytask.Running
	tk.promoted = 0
	m.started = append(m.started, tk.idx)
	if tk.released {
		m.finishRun(tk, lazytask.Succeeded, nil)
	}
	m.admit()
}

// resize: lowering the cap fails the queued tasks heavier than the new cap
// with ErrWeightTooLarge (they could never be admitted).
func (m *fzModel) resize(n int) {
	m.step = fmt.Sprintf("Resize(%d) from %d", n, m.cap)
	m.wantErr(m.s.Resize(n), nil)
	if n < m.cap {
		for _, tk := range m.tasks {
			if tk.state == lazytask.Queued && tk.weight > n {
				m.failed++
				m.end(tk, lazytask.Failed, scheduler.ErrWeightTooLarge)
			}
		}
	}
	m.cap = n
	m.admit()
}

func (m *fzModel) releaseTask(tk *fzTask) {
	if tk.released {
		return
	}
	m.step = fmt.Sprintf("release(task %d, %v)", tk.idx, tk.state)
	tk.released = true
	close(tk.release)
	if tk.state == lazytask.Running {
		m.finishRun(tk, lazytask.Succeeded, nil)
	}
}

func (m *fzModel) await(tk *fzTask) {
	m.step = fmt.Sprintf("Await(task %d, %v) with an ended context", tk.idx, tk.state)
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errFzAwait)
	v, err := tk.h.Await(ctx)
	if !tk.state.Terminal() {
		if err != errFzAwait {
			m.t.Errorf("%s = %d, %v; want the context's cause", m.step, v, err)
		}
		return
	}
	wantV := 0
	if tk.state == lazytask.Succeeded {
		wantV = tk.idx + 1
	}
	if v != wantV || !errors.Is(err, tk.err) || (tk.err == nil && err != nil) {
		m.t.Errorf("%s = %d, %v; want %d, %v", m.step, v, err, wantV, tk.err)
	}
}

// push queues tk behind the tasks of its priority.
func (m *fzModel) push(tk *fzTask) {
	m.seq++
	tk.seq = m.seq
	tk.state = lazytask.Queued
}

// head returns the queued task next in line: promoted ones first, in
// promote order, then the highest priority, FIFO within a priority.
func (m *fzModel) head() *fzTask {
	var best *fzTask
	for _, tk := range m.tasks {
		if tk.state != lazytask.Queued {
			continue
		}
		if best == nil || fzBefore(tk, best) {
			best = tk
		}
	}
	return best
}

func fzBefore(a, b *fzTask) bool {
	if (a.promoted != 0) != (b.promoted != 0) {
		return a.promoted != 0
	}
	if a.promoted != 0 {
		return a.promoted < b.promoted
	}
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	return a.seq < b.seq
}

func (m *fzModel) inUse() int {
	n := 0
	for _, tk := range m.tasks {
		if tk.state == lazytask.Running && !tk.forced && !tk.alone {
			n += tk.weight
		}
	}
	return n
}

// admit starts queued tasks while the head fits under the cap; a head that
// does not fit stops admission (it is not overtaken). A released task ends
// as soon as it starts, and frees its slots.
func (m *fzModel) admit() {
	for {
		tk := m.head()
		if tk == nil || tk.weight > m.cap-m.inUse() {
			return
		}
		tk.state = lazytask.Running
		tk.promoted = 0
		m.started = append(m.started, tk.idx)
		if tk.released {
			m.finishRun(tk, lazytask.Succeeded, nil)
		}
	}
}

// finishRun ends a running task and lets the next ones in.
func (m *fzModel) finishRun(tk *fzTask, st lazytask.State, err error) {
	m.end(tk, st, err)
	if tk.alone {
		return
	}
	if st == lazytask.Succeeded {
		m.succeeded++
	} else {
		m.canceled++
	}
	m.admit()
}

func (m *fzModel) end(tk *fzTask, st lazytask.State, err error) {
	tk.state, tk.err = st, err
}

func (m *fzModel) wantErr(err, want error) {
	m.t.Helper()
	if (want == nil && err != nil) || (want != nil && !errors.Is(err, want)) {
		m.t.Errorf("%s = %v; want %v", m.step, err, want)
	}
}

// settle waits until every goroutine of the bubble is blocked, then checks
// the scheduler against the model.
func (m *fzModel) settle() {
	m.t.Helper()
	synctest.Wait()
	m.mu.Lock()
	got := slices.Clone(m.log)
	m.mu.Unlock()
	want := slices.Clone(m.started)
	// Tasks admitted together start in any order; with a cap of 1 and no
	// force-run there is one at a time, and the order is the model's.
	if m.cap != 1 || strings.HasPrefix(m.step, "Force") || strings.HasPrefix(m.step, "Resize") {
		slices.Sort(got)
		slices.Sort(want)
	}
	if !slices.Equal(got, want) {
		m.t.Errorf("after %s: tasks started %v; want %v", m.step, got, want)
	}
	for _, tk := range m.tasks {
		if st := tk.h.State(); st != tk.state {
			m.t.Errorf("after %s: task %d is %v; want %v", m.step, tk.idx, st, tk.state)
			continue
		}
		if tk.state.Terminal() {
			if err := tk.h.Err(); !errors.Is(err, tk.err) || (tk.err == nil && err != nil) {
				m.t.Errorf("after %s: task %d (%v) Err() = %v; want %v", m.step, tk.idx, tk.state, err, tk.err)
			}
		}
	}
	m.checkStats()
	if m.t.Failed() {
		m.t.FailNow()
	}
}

func (m *fzModel) checkStats() {
	m.t.Helper()
	var want scheduler.Stats
	want.Limit = m.cap
	for _, tk := range m.tasks {
		switch {
		case tk.state == lazytask.Lazy && tk.bound:
			want.Lazy++
		case tk.state == lazytask.Queued:
			want.Queued++
		case tk.state == lazytask.Running && !tk.alone:
			want.Running++
			if tk.forced {
				want.OverCap++
				want.OverCapSlots += tk.weight
			} else {
				want.InUse += tk.weight
			}
		}
	}
	want.Submitted, want.Succeeded, want.Failed, want.Canceled = m.submitted, m.succeeded, m.failed, m.canceled
	want.ForceRuns, want.Promoted = m.forceRuns, m.promoted
	want.Created, want.Rejected = m.created, m.rejected
	if got := m.s.Stats(); got != want {
		m.t.Errorf("after %s: Stats() = %+v;\nwant %+v", m.step, got, want)
	}
}

// finish releases every task, cancels the unbound Lazy ones, shuts the
// scheduler down and checks that every task ended as the model says: the
// queued ones ran, the bound Lazy ones ended with ErrScopeClosed (I10), and
// the counters are back to 0 (I5).
func (m *fzModel) finish() {
	m.started = m.started[:0]
	m.mu.Lock()
	m.log = m.log[:0]
	m.mu.Unlock()
	m.step = "the end: release all"
	for _, tk := range m.tasks {
		m.releaseTask(tk)
	}
	m.admit()
	m.step = "the end: cancel unbound Lazy tasks"
	for _, tk := range m.tasks {
		if tk.state == lazytask.Lazy && !tk.bound {
			m.cancel(tk)
		}
	}
	m.step = "the end: Shutdown"
	// With every task released, nothing should still be queued: a task
	// heavier than the cap fails at Resize. Should one be stuck anyway,
	// Shutdown with no deadline would wait for it for ever; give it a
	// grace period of fake time then (unless LAZYSCHED_BUGS=1), after
	// which it cancels what remains with ErrClosed.
	stuck := slices.ContainsFunc(m.tasks, func(tk *fzTask) bool { return tk.state == lazytask.Queued })
	ctx := context.Background()
	if stuck && os.Getenv("LAZYSCHED_BUGS") != "1" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Second)
		defer cancel()
	}
	err := m.s.Shutdown(ctx)
	if stuck {
		m.wantErr(err, context.DeadlineExceeded)
	} else {
		m.wantErr(err, nil)
	}
	for _, tk := range m.tasks {
		switch tk.state {
		case lazytask.Lazy:
			m.canceled++
			m.end(tk, lazytask.Canceled, lazytask.ErrScopeClosed)
		case lazytask.Queued:
			m.canceled++
			m.end(tk, lazytask.Canceled, scheduler.ErrClosed)
		}
	}
	m.settle()
	if n := slices.IndexFunc(m.tasks, func(tk *fzTask) bool { return !tk.state.Terminal() }); n >= 0 {
		m.t.Errorf("task %d is %v after Shutdown", n, m.tasks[n].state)
	}
}
