package stress

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

const (
	nSlots = 4  // child scopes the submitters pick from, replaced as they go
	opRate = 10 // percent: chance of an operation after each task made
	// hookPanicEvery: one OnQueue hook call in this many panics.
	hookPanicEvery = 257
)

// round is one scheduler's life: New, many submitters, operations of every
// kind, a Shutdown, and the accounting of every task made.
type round struct {
	cfg  *Config
	seed uint64
	n    int
	s    *scheduler.Scheduler
	v    *tally
	log  *logCounter

	recs []taskRec
	next atomic.Int64 // the next task id to claim

	root     *scopeRec
	slots    [nSlots]atomic.Pointer[scopeRec]
	scopesMu sync.Mutex
	scopes   []*scopeRec

	baseCap      int
	rootFailFast bool
	hooked       bool
	drain        bool  // no Shutdown in the middle: drain, Wait, then Shutdown
	shutdownAt   int64 // the task id after which a submitter starts Shutdown
	pace         int   // >0: submitters yield while more tasks than this are queued
	calm         bool  // no task that only a cancel ends: every wait must end on its own

	drv driverG // the driver's goroutines, where user code must not Goexit
	hx  hostile // what the hostile user code did

	shutdownOnce    atomic.Bool
	shutdownStarted atomic.Bool

	feed     chan *lazytask.Task[int] // to the awaiters
	lazyPool chan *taskRec            // bound Lazy tasks for later operations
	waitPool chan *taskRec            // kWaitCtx tasks to cancel

	subs, aux, awaiters sync.WaitGroup

	counts counts // verify's result

	overCapRuns, forceOK, enqueueOK, promoteOK, cancelOK, shortAwaits atomic.Int64
	scopeCancels, scopeShutdowns, newScopes, resizes, midShutdowns    atomic.Int64
	hookQueue, hookDone, hookDone2, maxOverCap                        atomic.Int64
	hookMap                                                           sync.Map // lazytask.Handle → *hookCalls
}

func newRound(cfg *Config, seed uint64, n int) *round {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	r := &round{
		cfg: cfg, seed: seed, n: n,
		v:        &tally{strict: cfg.Strict},
		log:      &logCounter{},
		recs:     make([]taskRec, n),
		baseCap:  1 + rng.IntN(8),
		feed:     make(chan *lazytask.Task[int], 256),
		lazyPool: make(chan *taskRec, 1024),
		waitPool: make(chan *taskRec, 4096),
	}
	r.rootFailFast = rng.IntN(16) == 0
	r.hooked = rng.IntN(2) == 0
	r.drain = rng.IntN(3) == 0
	r.calm = rng.IntN(2) == 0
	r.shutdownAt = int64(n/2 + rng.IntN(n/2+1))
	if rng.IntN(4) != 0 {
		r.pace = r.baseCap * (4 << rng.IntN(5)) // 4x to 64x the cap
	}

	r.root = newScopeRec(nil, nil, r.baseCap)
	r.root.failFast = r.rootFailFast
	// The checks read the tasks' timings (the order of starts and ends, a
	// start time for each task that ran): every task keeps them.
	opts := []scheduler.SchedulerOption{scheduler.WithLimit(r.baseCap), scheduler.WithLogger(slog.New(r.log)), scheduler.WithTimings()}
	switch {
	case r.rootFailFast:
		opts = append(opts, scheduler.FailFast())
	case rng.IntN(2) == 0:
		r.root.handler = true
		opts = append(opts, scheduler.Supervise(r.handler(r.root)))
	}
	if r.hooked {
		opts = append(opts, scheduler.WithHooks(r.hooks()), scheduler.WithHooks(scheduler.Hooks{
			OnDone: func(context.Context, *scheduler.Scope, lazytask.Handle) { r.hookDone2.Add(1) },
		}))
	}
	if rng.IntN(4) == 0 {
		opts = append(opts, scheduler.WithExecutor(func(run func()) { go run() }))
	}
	s, err := scheduler.New(opts...)
	if err != nil {
		panic("stress: scheduler.New: " + err.Error())
	}
	r.s = s
	r.root.sc = s.Root()
	r.scopes = append(r.scopes, r.root)

	// Four child scopes to start with: a capped supervisor with a handler,
	// a capped fail-fast group, an uncapped supervisor that logs, and a
	// capped scope nested in the first.
	a := r.mustScope(r.root, r.baseCap, false, true)
	r.slots[0].Store(a)
	r.slots[1].Store(r.mustScope(r.root, 1+rng.IntN(r.baseCap+1), true, false))
	r.slots[2].Store(r.mustScope(r.root, 0, false, false))
	r.slots[3].Store(r.mustScope(a, 1+rng.IntN(2), rng.IntN(2) == 0, false))
	return r
}

func (r *round) hooks() scheduler.Hooks {
	return scheduler.Hooks{
		OnCreate: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			r.hookCounts(h).create.Add(1)
			r.hookMisbehave(siteCreate, h)
		},
		OnQueue: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			r.hookCounts(h).queue.Add(1)
			if r.hookQueue.Add(1)%hookPanicEvery == 0 {
				panic("stress: a hook panics")
			}
			r.hookMisbehave(siteQueue, h)
		},
		OnStart: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
			r.hookCounts(h).start.Add(1)
			r.hookMisbehave(siteStart, h)
			return nil
		},
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			r.hookCounts(h).done.Add(1)
			r.hookDone.Add(1)
			if !h.State().Terminal() {
				r.v.add("hooks", "OnDone hook sees the task %v", h.State())
			}
			r.hookMisbehave(siteDone, h)
		},
	}
}

// hookCalls counts the hook calls one task got.
type hookCalls struct{ create, queue, start, done atomic.Int32 }

func (r *round) hookCounts(h lazytask.Handle) *hookCalls {
	if v, ok := r.hookMap.Load(h); ok {
		return v.(*hookCalls)
	}
	v, _ := r.hookMap.LoadOrStore(h, new(hookCalls))
	return v.(*hookCalls)
}

// handler is a supervisor's error handler that counts what it receives: a
// failed child scope's report carries an Info made for it (no queued
// time; a task made by lazytask.New and handed over has no creation time), a task's its task's Info. (The error does not tell them apart: a
// task may fail with a *ScopeError that reached it as a cancellation cause.)
func (r *round) handler(sr *scopeRec) func(lazytask.Info, error) {
	return func(info lazytask.Info, err error) {
		var se *scheduler.ScopeError
		switch {
		case info.Timings.Queued.IsZero() && errors.As(err, &se):
			sr.scopeReports.Add(1)
		case info.Timings.Queued.IsZero():
			r.v.add("policy", "a supervisor got %v with an Info of no task: %+v", err, info)
		default:
			sr.reports.Add(1)
		}
	}
}

// newScope makes a child of parent: limit 0 means no cap of its own.
func (r *round) newScope(parent *scopeRec, limit int, failFast, handler, timed bool, d time.Duration) (*scopeRec, error) {
	sr := newScopeRec(nil, parent, limit)
	sr.failFast, sr.timed = failFast, timed
	var opts []scheduler.Option
	if limit > 0 {
		opts = append(opts, scheduler.WithLimit(limit))
	}
	switch {
	case failFast:
		opts = append(opts, scheduler.FailFast())
	case handler:
		sr.handler = true
		opts = append(opts, scheduler.Supervise(r.handler(sr)))
	}
	if timed {
		opts = append(opts, scheduler.WithTimeout(d))
	}
	sc, err := parent.sc.NewScope(opts...)
	if err != nil {
		if !errors.Is(err, scheduler.ErrClosed) && !errors.Is(err, scheduler.ErrScopeCanceled) {
			r.v.add("errors", "NewScope = %v; want nil, ErrClosed or ErrScopeCanceled", err)
		}
		return nil, err
	}
	sr.sc = sc
	r.newScopes.Add(1)
	r.scopesMu.Lock()
	r.scopes = append(r.scopes, sr)
	r.scopesMu.Unlock()
	return sr, nil
}

func (r *round) mustScope(parent *scopeRec, limit int, failFast, handler bool) *scopeRec {
	sr, err := r.newScope(parent, limit, failFast, handler, false, 0)
	if err != nil {
		panic("stress: NewScope on a new scheduler: " + err.Error())
	}
	return sr
}

// claim returns the next task id, or false once the round has made all its
// tasks.
func (r *round) claim() (int, bool) {
	id := r.next.Add(1) - 1
	if id >= int64(r.n) {
		return 0, false
	}
	return int(id), true
}

func (r *round) used() int { return int(min(r.next.Load(), int64(r.n))) }

func (r *round) start() {
	r.probeFanOut()
	for i := range r.cfg.Submitters {
		r.subs.Add(1)
		go r.submitter(i)
	}
	for range 2 {
		r.awaiters.Add(1)
		go r.awaiter()
	}
}

func (r *round) resize(sr *scopeRec, n int) {
	sr.setCapBounds(int64(n))
	var err error
	if sr == r.root && n%2 == 0 {
		err = r.s.Resize(n)
	} else {
		err = sr.sc.Resize(n)
	}
	if err != nil {
		r.v.add("errors", "Resize(%d) of scope %q = %v", n, sr.sc.Name(), err)
	}
	r.resizes.Add(1)
}
