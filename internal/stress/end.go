package stress

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/lazysched/lazysched/scheduler"
)

// probeFanOut runs nested fan-out on a fresh scope with a cap of 1 before
// the submitters start: parents await children that need the parents'
// slot, two levels deep. They must all finish (I9); without slot lending
// they would wait for ever.
func (r *round) probeFanOut() {
	rng := rand.New(rand.NewPCG(r.seed, 0xfa9))
	sr, err := r.newScope(r.root, 1, false, true, false, 0)
	if err != nil {
		r.v.add("errors", "NewScope(WithLimit(1)) on a new scheduler = %v", err)
		return
	}
	for range 3 {
		id, ok := r.claim()
		if !ok {
			break
		}
		r.create(rng, &r.recs[id], id, sr, 0, kNested, mSubmit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.DrainTimeout)
	defer cancel()
	if err := sr.sc.Wait(ctx); ctx.Err() != nil {
		r.v.add("I9", "nested fan-out on a scope with a cap of 1 did not finish within %v (Wait = %v): stats %+v", r.cfg.DrainTimeout, err, r.s.Stats())
	}
	sr.canceled.Store(true)
	sr.sc.Cancel(errScopeCancel)
}

func (r *round) shutdown(seed uint64) {
	defer r.aux.Done()
	defer crashNote(r.seed, r.n)
	defer r.drv.enter()()
	rng := rand.New(rand.NewPCG(seed, 0xdead))
	r.shutdownStarted.Store(true)
	var ctx context.Context
	var cancel context.CancelFunc
	if rng.IntN(4) == 0 {
		ctx, cancel = context.WithCancel(context.Background())
		cancel() // no grace at all
	} else {
		ctx, cancel = context.WithTimeout(context.Background(), time.Duration(rng.IntN(4000))*time.Microsecond)
	}
	defer cancel()
	if rng.IntN(2) == 0 {
		r.aux.Add(1)
		go func() {
			defer r.aux.Done()
			defer r.drv.enter()()
			r.checkShutdown("a concurrent Shutdown", r.s.Shutdown(context.Background()))
		}()
	}
	r.checkShutdown("Shutdown", r.s.Shutdown(ctx))
	r.midShutdowns.Add(1)
}

func (r *round) checkShutdown(call string, err error) {
	switch {
	case err == nil, errors.Is(err, scheduler.ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
	case r.rootFailFast:
	default:
		r.v.add("errors", "%s = %v; want nil, ErrClosed or the grace context's error", call, err)
	}
}

// drainAll ends a round without a Shutdown in the middle: it cancels the
// tasks that only a cancel ends, restores the caps, and waits for the
// scheduler to be idle, which it must reach (I9: nested fan-out completes).
func (r *round) drainAll() {
	for i := range r.used() {
		rec := &r.recs[i]
		if h := rec.h.Load(); h != nil && rec.kind == kWaitCtx {
			r.cancelTask(rec, h, errCancel)
		}
	}
	r.scopesMu.Lock()
	scopes := append([]*scopeRec(nil), r.scopes...)
	r.scopesMu.Unlock()
	for _, sr := range scopes {
		if sr.capped {
			r.resize(sr, int(sr.maxCap.Load()))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.DrainTimeout)
	defer cancel()
	err := r.s.Wait(ctx)
	r.shutdownStarted.Store(true)
	if ctx.Err() != nil {
		r.v.add("I9", "Scheduler.Wait did not return within %v after the submitters stopped: stats %+v", r.cfg.DrainTimeout, r.s.Stats())
		_ = r.s.Shutdown(ctx) // no grace: cancel what is stuck
		return
	}
	if err != nil && !r.rootFailFast {
		r.v.add("errors", "Scheduler.Wait of a supervisor root = %v; want nil", err)
	}
	r.checkReleased()
	if err := r.s.Shutdown(context.Background()); err != nil && !r.rootFailFast {
		r.v.add("errors", "Shutdown(Background) of an idle supervisor root = %v; want nil", err)
	}
}

// finish stops the round: every goroutine of the driver joined, the
// scheduler shut down, a last Shutdown returning ErrClosed.
func (r *round) finish() {
	r.subs.Wait()
	if r.drain {
		r.drainAll()
	} else if r.shutdownOnce.CompareAndSwap(false, true) {
		r.aux.Add(1)
		r.shutdown(r.seed)
	}
	r.aux.Wait()
	if err := r.s.Shutdown(context.Background()); !errors.Is(err, scheduler.ErrClosed) {
		r.v.add("errors", "a later Shutdown = %v; want ErrClosed", err)
	}
	close(r.feed)
	r.awaiters.Wait()
}
