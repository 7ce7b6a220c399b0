package stress

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"

	"github.com/lazysched/lazysched/lazytask"
)

// kind is what a task's function does.
type kind uint8

const (
	kSucceed    kind = iota // returns its value at once
	kSlow                   // yields a few times, then returns its value
	kError                  // returns an error of its own
	kPanic                  // panics with a value of its own
	kGoexit                 // calls runtime.Goexit
	kTimeout                // has a timeout and waits for its context
	kWaitCtx                // waits for its context: only a cancel ends it
	kNested                 // submits children and awaits them with its context
	kAwaitOther             // awaits an older task with its context
	kScopeWait              // gives a child scope tasks and waits for it with its context
	numKinds
)

var kindNames = [numKinds]string{"succeed", "slow", "error", "panic", "goexit", "timeout", "waitctx", "nested", "awaitother", "scopewait"}

func (k kind) String() string { return kindNames[k] }

// mode is how a task was made and handed to the scheduler.
type mode uint8

const (
	mSubmit  mode = iota // scheduler.Submit
	mNewTask             // scheduler.NewTask: bound Lazy, maybe enqueued or started later
	mUnbound             // lazytask.New, then Scope.Enqueue
)

// taskRec is the driver's record of one task. The fields above h are
// written before h is stored and never after; the rest are atomics.
type taskRec struct {
	id     int32
	kind   kind
	mode   mode
	depth  int8
	weight int32
	param  int32 // Gosched rounds (slow), timeout µs, children (nested)
	scope  *scopeRec
	err    error // the error a kError task returns
	// submitErr is the error of the creating call (Submit, NewTask's
	// refusal, Enqueue of an unbound task).
	submitErr error
	cbPanic   bool // a panicking done callback was registered
	// Hostile user code (hostile.go): the done callback's plan (cb* bits),
	// the hook that misbehaves and how, and whether the task is made on a
	// throwaway goroutine (its create or queue hook calls runtime.Goexit).
	cb           uint8
	hookSite     hookSite
	hookPanic    bool
	viaThrowaway bool
	hookBug      bool // NewTask left the task Lazy after its OnCreate hook's Goexit

	h atomic.Pointer[lazytask.Task[int]]

	refused     atomic.Bool                        // creation refused: the task never reached the scheduler's counts
	handedOver  atomic.Bool                        // a Lazy task was enqueued, forced or started
	preCanceled atomic.Bool                        // a Cancel ended it before it ran
	cancelTried atomic.Bool                        // the driver called Cancel on it
	entries     atomic.Int32                       // function entries: must never exceed 1 (run once)
	dones       atomic.Int32                       // done callback runs: must end at 1 (I2)
	kids        atomic.Int32                       // nested: children awaited successfully
	dones2      atomic.Int32                       // runs of the callback registered after the hostile one
	hookH       atomic.Pointer[lazytask.Task[int]] // the handle as OnCreate saw it (hostile hooks)
	hookFired   atomic.Bool                        // the hostile hook misbehaved
	cbGoexited  atomic.Bool                        // the hostile callback called runtime.Goexit
	lost        bool                               // verify: its callbacks and hooks were lost with a batch (known bug)
}

func (rec *taskRec) want() int { return int(rec.id) + 1 }

// taskError is the error of a kError task: one value per task, so that a
// fail-fast scope's cause never matches another task's error.
type taskError struct{ id int32 }

func (e *taskError) Error() string { return fmt.Sprintf("stress: task %d failed", e.id) }

// panicValue is what a kPanic task panics with.
type panicValue struct{ id int32 }

var (
	errCancel      = errors.New("stress: canceled by the driver")
	errScopeCancel = errors.New("stress: scope canceled by the driver")
	errUnbound     = errors.New("stress: unbound task refused, canceled by the driver")
	errShort       = errors.New("stress: short await ended")
)

// body returns the task's function. It counts its entries (run once, I4),
// counts its weight in every scope on its path while it holds slots (I3),
// and does what its kind says.
func (r *round) body(rec *taskRec) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		if n := rec.entries.Add(1); n != 1 {
			r.v.add("run-once", "task %d (%v): function entered %d times", rec.id, rec.kind, n)
		}
		if rec.preCanceled.Load() {
			r.v.add("I4", "task %d (%v) runs although a Cancel ended it before it ran", rec.id, rec.kind)
		}
		held := r.take(ctx, rec)
		defer func() {
			if held {
				r.give(rec)
			}
		}()
		switch rec.kind {
		case kSlow:
			for range rec.param {
				runtime.Gosched()
			}
		case kError:
			return 0, rec.err
		case kPanic:
			panic(panicValue{rec.id})
		case kGoexit:
			runtime.Goexit()
		case kTimeout, kWaitCtx:
			<-ctx.Done()
			return 0, ctx.Err()
		case kNested:
			return r.fanOut(ctx, rec, &held)
		case kAwaitOther:
			return r.awaitOther(ctx, rec, &held)
		case kScopeWait:
			return r.scopeWait(ctx, rec, &held)
		}
		return rec.want(), nil
	}
}

// take counts the task's weight in every scope on its path, unless it runs
// over the cap (forced, or back from a slot loan with no room), and checks
// the caps (I3). The count runs behind the scheduler's own: a task counts
// itself after the scheduler gave it its slots and uncounts itself before
// it gives them back, so the count never exceeds what the scheduler holds.
func (r *round) take(ctx context.Context, rec *taskRec) bool {
	h := lazytask.HandleOf(ctx)
	if h == nil {
		r.v.add("context", "task %d: lazytask.HandleOf(its context) = nil", rec.id)
		return false
	}
	if h.Info().OverCap {
		r.overCapRuns.Add(1)
		return false
	}
	w := int64(rec.weight)
	for p := rec.scope; p != nil; p = p.parent {
		v := p.cur.Add(w)
		if p.capped {
			if m := p.maxCap.Load(); v > m {
				r.v.add("I3", "scope %q: %d slots held by running tasks; its cap was never above %d", p.sc.Name(), v, m)
			}
		}
		p.notePeak(v)
	}
	return true
}

func (r *round) give(rec *taskRec) {
	w := int64(rec.weight)
	for p := rec.scope; p != nil; p = p.parent {
		p.cur.Add(-w)
	}
}

// fanOut submits the task's children to its scope and awaits each with the
// task's own context (or one derived from it): the task's slot is lent
// while it waits (I9). It returns the number of children it awaited.
func (r *round) fanOut(ctx context.Context, rec *taskRec, held *bool) (int, error) {
	rng := rand.New(rand.NewPCG(r.seed, uint64(rec.id)))
	kids := make([]*taskRec, 0, rec.param)
	for range rec.param {
		id, ok := r.claim()
		if !ok {
			break
		}
		child := &r.recs[id]
		r.create(rng, child, id, rec.scope, int(rec.depth)+1, r.pickKind(rng, int(rec.depth)+1), mSubmit)
		kids = append(kids, child)
	}
	if *held {
		r.give(rec)
		*held = false
	}
	derive := rng.IntN(3) == 0
	var err error
	n := 0
	for _, k := range kids {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if derive {
			actx, cancel = context.WithCancel(ctx)
		}
		v, kerr := k.h.Load().Await(actx)
		cancel()
		if kerr != nil {
			err = kerr
			break
		}
		want := k.want()
		if k.kind == kNested {
			want = int(k.kids.Load())
		}
		if v != want {
			r.v.add("I9", "task %d: child %d awaited = %d, nil; want %d", rec.id, k.id, v, want)
		}
		n++
	}
	*held = r.take(ctx, rec)
	rec.kids.Store(int32(n))
	if err != nil {
		return 0, err
	}
	return n, nil
}
