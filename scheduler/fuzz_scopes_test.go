package scheduler_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// FuzzSchedulerOpsScopes drives a tree of up to 12 scopes, nested up to
// several levels, each with an optional cap, under a capped root, with
// operations across them: submit (priority -2..2, weight 1), release a
// running task, cancel a task, promote it, force-run it, cancel a scope,
// resize a scope's cap. Everything runs in a synctest bubble; after each
// operation, once every goroutine has settled, it checks what must hold
// whatever the order of admission:
//   - no cap at any level is exceeded by the tasks running under it, less
//     the force-run ones (which may run over every cap), and each scope's
//     Stats agree with the handles;
//   - no slot is left idle: no scope alive has a queued task while every
//     level from it to the root has room for it (weight 1);
//   - a task promoted in a scope starts no later than the other queued
//     tasks of that scope;
//
// and at the end, with every task released and the scheduler shut down,
// that every task ended once, in the state its history calls for, and its
// done callback ran exactly once.
//
// If byte 1 has its high bit set, scope 1 (when there is one) also takes a
// shared limit (limiter.Local) of 1 to 3 permits, from bits 4-5 of byte 1:
// then the tasks of its subtree that hold slots never exceed it, a queued
// task of that subtree with room at every level must find the shared
// limit full (no permit idle), and after Shutdown every permit is back.
//
// The input: byte 0 sets the number of scopes below the root (0 to 11) and
// byte 1 the root's cap (1 to 6); then a byte per scope gives its parent
// (one of the scopes before it) and its cap (none, or 1 to 3); then each
// pair of bytes is one operation.
func FuzzSchedulerOpsScopes(f *testing.F) {
	f.Add([]byte{3, 1, 0x10, 0x21, 0x31, 0, 0, 0, 1, 0, 2, 0, 3, 1, 1, 2, 2, 7, 0, 7, 1, 7, 2})
	f.Add([]byte{11, 5, 0x10, 0x20, 0x31, 0x12, 0x23, 0x34, 0x05, 0x16, 0x27, 0x38, 0x09,
		0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0, 9, 0, 10, 0, 11, 7, 0, 7, 3, 5, 2, 6, 0x31, 4, 5, 7, 1})
	f.Add([]byte{6, 2, 0x10, 0x11, 0x12, 0x23, 0x24, 0x35,
		0, 0x16, 0, 0x26, 0, 0x36, 0, 0x46, 0, 0x11, 3, 2, 4, 3, 7, 0, 7, 1, 5, 4, 7, 4, 7, 5})
	f.Add([]byte{8, 3, 0x10, 0x20, 0x31, 0x22, 0x13, 0x24, 0x35, 0x06,
		0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 8, 0x13, 8, 0x02, 6, 0x25, 7, 0, 7, 1, 7, 2, 9, 0})
	f.Add([]byte{4, 1, 0x10, 0x21, 0x32, 0x13, 0, 0x04, 0, 0x14, 0, 0x24, 0, 0x03, 4, 2, 4, 1, 7, 0, 7, 0, 7, 0})
	// With a shared limit on scope 1 (byte 1's high bit).
	f.Add([]byte{4, 0x93, 0x10, 0x21, 0x11, 0x03, 0, 1, 0, 1, 0, 2, 0, 3, 0, 4, 0, 1, 4, 3, 5, 2, 7, 0, 6, 0x11, 7, 1, 9, 4, 7, 2, 0, 2})
	f.Add([]byte{3, 0xa5, 0x00, 0x31, 0x12, 0, 1, 0, 2, 0, 3, 0, 1, 0, 2, 0, 3, 3, 1, 7, 2, 4, 4, 5, 5, 7, 0, 7, 1, 7, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 || len(data) > 600 {
			return
		}
		synctest.Test(t, func(t *testing.T) { fsRun(t, data) })
	})
}

var errFsCancel = errors.New("fuzz: canceled")

type fsScope struct {
	idx      int
	sc       *scheduler.Scope
	parent   *fsScope
	cap      int // 0: none
	allow    int // what may run under the cap: more than cap after a shrink, until the excess ends
	canceled bool
}

type fsTask struct {
	idx     int
	h       *lazytask.Task[int]
	scope   *fsScope
	release chan struct{}
	// The model's history of the task.
	released, canceled, forced, promoted, refused bool
	promotedAt                                    int // starts seen when it was promoted
	// Under fsModel.mu:
	started  bool // seen by its function
	dones    int  // done callbacks run
	startSeq int  // order of starts seen
}

type fsModel struct {
	t      *testing.T
	s      *scheduler.Scheduler
	scopes []*fsScope
	tasks  []*fsTask
	mu     sync.Mutex
	starts int // under mu
	// The shared limit of scopes[1], if byte 1 asked for one.
	shared    *limiter.Local
	sharedCap int
}

func fsRun(t *testing.T, data []byte) {
	n := int(data[0]) % 12
	rootCap := 1 + int(data[1])%6
	s, err := scheduler.New(scheduler.WithLimit(rootCap), scheduler.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	m := &fsModel{t: t, s: s}
	m.scopes = append(m.scopes, &fsScope{idx: 0, sc: s.Root(), cap: rootCap, allow: rootCap})
	if data[1]&0x80 != 0 {
		m.sharedCap = 1 + int(data[1]>>4)%4%3
		if m.shared, err = limiter.NewLocal(int64(m.sharedCap)); err != nil {
			t.Fatalf("NewLocal: %v", err)
		}
	}
	data = data[2:]
	for i := 1; i <= n; i++ {
		var b byte
		if len(data) > 0 {
			b, data = data[0], data[1:]
		}
		parent := m.scopes[int(b&0x0f)%len(m.scopes)]
		c := int(b>>4) % 4
		var opts []scheduler.Option
		if c > 0 {
			opts = append(opts, scheduler.WithLimit(c))
		}
		if i == 1 && m.shared != nil {
			opts = append(opts, scheduler.WithSharedLimit(m.shared))
		}
		sc, err := parent.sc.NewScope(opts...)
		if err != nil {
			t.Fatalf("NewScope: %v", err)
		}
		m.scopes = append(m.scopes, &fsScope{idx: i, sc: sc, parent: parent, cap: c, allow: c})
	}
	for i := 0; i+1 < len(data); i += 2 {
		m.apply(data[i]%10, data[i+1])
		synctest.Wait()
		m.check()
	}
	m.finish()
}

func (m *fsModel) task(a byte) *fsTask {
	if len(m.tasks) == 0 {
		return nil
	}
	return m.tasks[int(a)%len(m.tasks)]
}

func (m *fsModel) apply(op, a byte) {
	switch op {
	case 0, 1, 2: // submit, the most common operation
		if len(m.tasks) < 40 {
			m.submit(m.scopes[int(a&0x0f)%len(m.scopes)], int(a>>4)%5-2)
		}
	case 3:
		if tk := m.task(a); tk != nil {
			if tk.h.Cancel(errFsCancel) {
				tk.canceled = true
			}
		}
	case 4:
		if tk := m.task(a); tk != nil && tk.h.State() == lazytask.Queued {
			if err := m.s.Promote(tk.h); err == nil && !tk.promoted {
				tk.promoted = true
				m.mu.Lock()
				tk.promotedAt = m.starts
				m.mu.Unlock()
			}
		}
	case 5:
		if tk := m.task(a); tk != nil && tk.h.State() == lazytask.Queued {
			if err := tk.scope.sc.Force(tk.h); err == nil {
				tk.forced = true
			}
		}
	case 6:
		x := m.scopes[int(a&0x0f)%len(m.scopes)]
		c := 1 + int(a>>4)%4
		if x.cap > 0 && x.sc.Resize(c) == nil {
			x.cap = c
			x.allow = max(c, x.allow) // the tasks running go on
		}
	case 7, 8:
		if tk := m.task(a); tk != nil && !tk.released {
			tk.released = true
			close(tk.release)
		}
	case 9:
		if a%4 == 0 { // cancel a scope below the root, now and then
			x := m.scopes[int(a>>2)%len(m.scopes)]
			if x.parent != nil {
				x.sc.Cancel(errFsCancel)
				m.markCanceled(x)
			}
		}
	}
}

// markCanceled marks x and its subtree canceled in the model.
func (m *fsModel) markCanceled(x *fsScope) {
	for _, y := range m.scopes {
		if under(y, x) {
			y.canceled = true
		}
	}
}

func (m *fsModel) submit(x *fsScope, prio int) {
	tk := &fsTask{idx: len(m.tasks), scope: x, release: make(chan struct{})}
	fn := func(ctx context.Context) (int, error) {
		m.mu.Lock()
		m.starts++
		tk.started = true
		tk.startSeq = m.starts
		m.mu.Unlock()
		select {
		case <-tk.release:
			return tk.idx, nil
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		}
	}
	h, err := scheduler.Submit(x.sc, fn, lazytask.WithPriority(prio))
	if h == nil {
		m.t.Fatalf("Submit returned a nil handle (err %v)", err)
	}
	tk.h = h
	tk.refused = err != nil
	if err != nil && !x.canceled {
		m.t.Fatalf("Submit to a scope alive: %v", err)
	}
	h.OnDone(func(int, error) {
		m.mu.Lock()
		tk.dones++
		m.mu.Unlock()
	})
	m.tasks = append(m.tasks, tk)
}

// under reports whether scope y is x or below it.
func under(y, x *fsScope) bool {
	for z := y; z != nil; z = z.parent {
		if z == x {
			return true
		}
	}
	return false
}

func (m *fsModel) check() {
	t := m.t
	m.mu.Lock()
	defer m.mu.Unlock()
	running := make([]int, len(m.scopes)) // under the caps: not forced
	all := make([]int, len(m.scopes))
	queued := make([]int, len(m.scopes))
	for _, tk := range m.tasks {
		st := tk.h.State()
		if st == lazytask.Running && !tk.started {
			t.Fatalf("task %d Running but its function has not started", tk.idx)
		}
		for _, x := range m.scopes {
			if !under(tk.scope, x) {
				continue
			}
			switch st {
			case lazytask.Running:
				all[x.idx]++
				if !tk.h.Info().OverCap {
					running[x.idx]++
				}
			case lazytask.Queued:
				queued[x.idx]++
			}
		}
	}
	if m.shared != nil && len(m.scopes) > 1 {
		// Every task of the sharer's subtree that holds slots holds a
		// permit (weight 1 each); the limit never grants past its cap.
		if in := m.shared.InUse(); int64(running[1]) > in || in > int64(m.sharedCap) {
			t.Fatalf("shared limit %d: %d permits out, %d tasks of its subtree run under the caps", m.sharedCap, in, running[1])
		}
	}
	for _, x := range m.scopes {
		if x.cap > 0 {
			if running[x.idx] > x.allow {
				t.Fatalf("scope %d: %d tasks running under a cap of %d (allowed %d after a shrink)", x.idx, running[x.idx], x.cap, x.allow)
			}
			x.allow = max(x.cap, min(x.allow, running[x.idx]))
		}
		st := x.sc.Stats()
		if st.Running != all[x.idx] || st.Queued != queued[x.idx] {
			t.Fatalf("scope %d: Stats says %d running, %d queued; the handles %d, %d", x.idx, st.Running, st.Queued, all[x.idx], queued[x.idx])
		}
	}
	// No idle slot: a scope alive with a queued task of its own must have
	// a level without room on its way to the root.
	for _, tk := range m.tasks {
		if tk.h.State() != lazytask.Queued {
			continue
		}
		if tk.scope.canceled {
			t.Fatalf("task %d queued in a canceled scope", tk.idx)
		}
		room := true
		for z := tk.scope; z != nil; z = z.parent {
			if z.cap > 0 && running[z.idx] >= z.cap {
				room = false
				break
			}
		}
		if room && m.shared != nil && len(m.scopes) > 1 && under(tk.scope, m.scopes[1]) && running[1] >= m.sharedCap {
			room = false // every permit is held by a task that runs
		}
		if room {
			t.Fatalf("task %d queued in scope %d, and every level to the root has room", tk.idx, tk.scope.idx)
		}
	}
	// While a promoted task waits, no task of its scope that was not
	// promoted or forced starts after it was promoted.
	for _, p := range m.tasks {
		if !p.promoted || p.h.State() != lazytask.Queued {
			continue
		}
		for _, o := range m.tasks {
			if o.scope == p.scope && o.started && o.startSeq > p.promotedAt && !o.forced && !o.promoted {
				t.Fatalf("task %d started in scope %d after task %d was promoted there, which still waits", o.idx, o.scope.idx, p.idx)
			}
		}
	}
}

func (m *fsModel) finish() {
	t := m.t
	for _, tk := range m.tasks {
		if !tk.released {
			tk.released = true
			close(tk.release)
		}
	}
	if err := m.s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	synctest.Wait()
	if m.shared != nil && (m.shared.InUse() != 0 || m.shared.Waiting() != 0) {
		t.Fatalf("after Shutdown the shared limit has %d permits out, %d requests waiting", m.shared.InUse(), m.shared.Waiting())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, tk := range m.tasks {
		st := tk.h.State()
		if tk.dones != 1 {
			t.Fatalf("task %d: %d done callbacks", tk.idx, tk.dones)
		}
		switch {
		case tk.refused:
			if tk.started || st != lazytask.Canceled {
				t.Fatalf("task %d refused at submit: state %v, started %v", tk.idx, st, tk.started)
			}
		case st == lazytask.Succeeded:
			if !tk.started {
				t.Fatalf("task %d Succeeded without running", tk.idx)
			}
		case st == lazytask.Canceled:
			if !tk.canceled && !tk.scope.canceled {
				t.Fatalf("task %d Canceled, though neither it nor its scope was", tk.idx)
			}
		default:
			t.Fatalf("task %d ended %v (err %v)", tk.idx, st, tk.h.Err())
		}
	}
}
