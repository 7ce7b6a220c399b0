package core

import (
	"context"
	"sync"
	"time"
)

// taskCtx is the context a task's function receives. It is the task itself
// seen through another method set, so it costs no allocation. It is canceled
// when the task is canceled while running, when its timeout or deadline
// passes, when its parent (the owner's context) is canceled, and when the
// function returns. Its Done channel, and the registration with the parent
// that closes it, are made only if somebody asks for them.
type taskCtx Task

type ctxKey struct{}

var taskKey = &ctxKey{}

// FromContext returns the task whose function received ctx (or a context
// derived from it), or nil.
func FromContext(ctx context.Context) *Task {
	if ctx == nil {
		return nil
	}
	if t, ok := ctx.(*taskCtx); ok {
		return (*Task)(t)
	}
	c, _ := ctx.Value(taskKey).(*Task)
	return c
}

// waitLenderKey is the key of WithWaitLender's lend function.
var waitLenderKey = &ctxKey{}

// WithWaitLender returns ctx with lend as the way a wait made with it (or
// with a context derived from it) lends a slot, for code that runs as a
// task but is given a context that names no task of its own: an errgroup
// made with In hands its functions the group's context, and a wait made
// with it from inside one of them lends, through lend, the slot of one of
// the group's functions that is not waiting (LendFor), instead of nothing
// or the slot of the task the group's context came from. lend returns the
// function that takes the slot back, or nil if it lent nothing; its cut is
// true for a wait cut short by its context, which goes on over the cap if
// the slot is taken, as a task's own wait does (I9: await with a timeout,
// then cancel the straggler). A task's own context hides the lender: a
// wait made with it lends that task's slot as before.
func WithWaitLender(ctx context.Context, lend func() func(cut bool)) context.Context {
	return context.WithValue(ctx, waitLenderKey, lend)
}

// HasWaitLender reports whether ctx has a WithWaitLender function nearer
// than any task's context: whether it is a group's context (or derives
// from one) rather than a task's that carries a group's values.
func HasWaitLender(ctx context.Context) bool { return waitLender(ctx) != nil }

// waitLender returns ctx's WithWaitLender function, if ctx has one nearer
// than any task's context; else nil.
func waitLender(ctx context.Context) func() func(cut bool) {
	if ctx == nil {
		return nil
	}
	if _, direct := ctx.(*taskCtx); direct {
		return nil // a task's own context: the common wait, one type check
	}
	lend, _ := ctx.Value(waitLenderKey).(func() func(cut bool))
	return lend
}

// groupLend lends through ctx's WithWaitLender, if it has one; nil if it
// lent nothing.
func groupLend(ctx context.Context) (reclaim func(cut bool)) {
	if lend := waitLender(ctx); lend != nil {
		return lend()
	}
	return nil
}

// IsTaskKey reports whether key is the context key under which a task's
// context names its task (FromContext): a context that merges a task's
// context with another must answer it from the task's.
func IsTaskKey(key any) bool { return key == taskKey }

func (t *taskCtx) task() *Task { return (*Task)(t) }

func (t *taskCtx) parent() context.Context {
	if b := (*Task)(t).owner.Load(); b != nil {
		return b.Owner.Context()
	}
	return context.Background()
}

// Deadline is the earliest of the task's own deadline, its parent's and
// that of the context it carries with cancellation.
func (t *taskCtx) Deadline() (time.Time, bool) {
	pd, pok := t.parent().Deadline()
	d, ok := ownDeadline(t.task())
	if !ok || (pok && pd.Before(d)) {
		d, ok = pd, pok
	}
	if x := t.task().x.Load(); x != nil && x.cancels {
		if cd, cok := x.carried.Deadline(); cok && (!ok || cd.Before(d)) {
			d, ok = cd, true
		}
	}
	return d, ok
}

func ownDeadline(c *Task) (time.Time, bool) {
	x := c.x.Load()
	if x == nil || (x.timeout <= 0 && x.deadline.IsZero()) {
		return time.Time{}, false
	}
	d := x.deadline
	if x.timeout > 0 {
		if td := At(x.t.started.Load()).Add(x.timeout); d.IsZero() || td.Before(d) {
			d = td
		}
	}
	return d, true
}

func (t *taskCtx) Done() <-chan struct{} {
	c := t.task()
	x := getX(c)
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.ctxClosed && terminal(c.state.Load()) {
		closeCtx(x)
	}
	if x.ctxDone == nil {
		if x.ctxClosed {
			x.ctxDone = closedChan
		} else {
			x.ctxDone = make(chan struct{})
			watchParent(c, x)
		}
	}
	return x.ctxDone
}

// watchParent registers with the parent so that its cancellation closes
// ours; x.mu is held.
func watchParent(c *Task, x *ext) {
	if x.parentStop != nil || x.ctxClosed {
		return
	}
	p := (*taskCtx)(c).parent()
	if p.Done() == nil {
		return
	}
	if p.Err() != nil {
		closeCtx(x)
		return
	}
	x.parentStop = context.AfterFunc(p, func() {
		x.mu.Lock()
		parentCanceledLocked(c, x, p)
		closeCtx(x)
		x.mu.Unlock()
	})
}

func (t *taskCtx) Err() error {
	c := t.task()
	if s := c.state.Load(); s&flagCtxDone != 0 || terminal(s) {
		if x := c.x.Load(); x != nil && x.ctxErr != nil {
			return x.ctxErr
		}
		return context.Canceled
	}
	return t.parent().Err()
}

func (t *taskCtx) Value(key any) any {
	if key == taskKey {
		return t.task()
	}
	if key == waitLenderKey {
		return nil // a task's own context names its waiter: it hides a group's lender above it
	}
	c := t.task()
	x := c.x.Load()
	if c.state.Load()&flagCtxDone != 0 && key == cancelCtxKey() {
		if x != nil && x.ctxCause != nil {
			return x.ctxCause.Value(key)
		}
	}
	if x != nil && x.carried != nil && key != cancelCtxKey() {
		// The values of the code that made the task come first.
		if v := x.carried.Value(key); v != nil {
			return v
		}
	}
	return t.parent().Value(key)
}

// AfterFunc lets context.WithCancel(taskCtx) and context.AfterFunc register
// without a goroutine each (the context package looks for this method).
func (t *taskCtx) AfterFunc(f func()) func() bool {
	c := t.task()
	x := getX(c)
	x.mu.Lock()
	if !x.ctxClosed && terminal(c.state.Load()) {
		closeCtx(x)
	}
	if x.ctxClosed {
		x.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f}
	x.afters = append(x.afters, a)
	watchParent(c, x)
	x.mu.Unlock()
	return func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		if a.done {
			return false
		}
		a.done = true
		forgetAfterLocked(x, a)
		return true
	}
}

// forgetAfterLocked lets go of a stopped after-func a: what f captured at
// once, and its place in x.afters once half the list is stopped ones, so
// that a long-running task that derives and cancels a context per request
// (context.WithCancel of its context registers here, and its cancel
// stops the registration) holds its live registrations only, not one per
// request until it ends. x.mu is held.
func forgetAfterLocked(x *ext, a *afterFunc) {
	a.f = nil
	x.aftersStopped++
	if x.aftersStopped*2 < len(x.afters) {
		return
	}
	live := x.afters[:0]
	for _, b := range x.afters {
		if !b.done {
			live = append(live, b)
		}
	}
	clear(x.afters[len(live):])
	x.afters = live
	x.aftersStopped = 0
}

func (t *taskCtx) String() string { return "lazytask.Context" }

// closeCtx closes the context's channel and runs the after-funcs; x.mu is
// held.
func closeCtx(x *ext) {
	if x.ctxClosed {
		return
	}
	x.ctxClosed = true
	if x.ctxDone != nil {
		close(x.ctxDone)
	}
	for _, a := range x.afters {
		if !a.done {
			a.done = true
			go a.f()
			a.f = nil
		}
	}
	x.afters = nil
	x.aftersStopped = 0
	if x.parentStop != nil {
		x.parentStop()
		x.parentStop = nil
	}
	if x.timer != nil {
		x.timer.Stop()
		x.timer = nil
	}
	if x.stopTimer != nil {
		x.stopTimer()
		x.stopTimer = nil
	}
}

// cancelCtx cancels a running task's context with err and cause. It reports
// false if the context was already canceled.
func cancelCtx(c *Task, err, cause error) bool { return cancelCtxFrom(c, err, cause, false) }

// cancelCtxFrom is cancelCtx; outside says the cancellation came from
// outside the task (the context it carries) even where cause is err, so
// that a carried deadline does not read as the task's own timeout.
func cancelCtxFrom(c *Task, err, cause error, outside bool) bool {
	if c.state.Load()&flagCtxDone != 0 {
		return false
	}
	x := getX(c)
	x.mu.Lock()
	if x.ctxErr != nil || c.state.Load()&flagCtxDone != 0 {
		x.mu.Unlock()
		return false
	}
	if p := (*taskCtx)(c).parent(); p.Err() != nil {
		// The parent was canceled first (a scope's cancel racing the
		// task's own timeout): its error stands, so that Err never
		// changes once it is not nil.
		parentCanceledLocked(c, x, p)
		closeCtx(x)
		x.mu.Unlock()
		return false
	}
	x.ctxErr = err
	if cause != nil && (cause != err || outside) {
		cc, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		x.ctxCause = cc
	}
	// Err must answer before anyone is told: children canceled by closeCtx
	// read it at once.
	c.state.Or(flagCtxDone)
	closeCtx(x)
	x.mu.Unlock()
	return true
}

// parentCanceledLocked records that the parent's cancellation canceled the
// task's context, with the parent's error (its cause stays the parent's);
// x.mu is held.
func parentCanceledLocked(c *Task, x *ext, p context.Context) {
	if x.ctxErr == nil && c.state.Load()&flagCtxDone == 0 {
		x.ctxErr = p.Err()
		x.ctxCause = p // context.Cause answers the parent's cause; not an own timeout
		c.state.Or(flagCtxDone)
	}
}

// endCtx cancels the context when the function has returned, and releases
// the timer and the registration with the parent.
// Without an extension nobody watched the context, and Err reads the end
// from the task's state, so the common case costs one load.
func endCtx(c *Task) {
	x := c.x.Load()
	if x == nil || c.state.Load()&flagCtxDone != 0 {
		return
	}
	x.mu.Lock()
	if x.ctxErr == nil {
		x.ctxErr = context.Canceled
	}
	c.state.Or(flagCtxDone)
	closeCtx(x)
	x.mu.Unlock()
}

// armTimer starts the timeout timer of a task that has one.
func armTimer(c *Task) {
	x := c.x.Load()
	if x == nil {
		return
	}
	d, ok := ownDeadline(c)
	if !ok {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ctxClosed {
		return
	}
	expire := func() { cancelCtx(c, context.DeadlineExceeded, context.DeadlineExceeded) }
	if tb := timebaseOf(c); tb != nil {
		x.stopTimer = tb.AfterFunc(d.Sub(tb.Time()), expire)
		return
	}
	x.timer = time.AfterFunc(time.Until(d), expire)
}

// cancelCtxKey finds the key under which the context package's cancelCtx
// answers Value, so that context.Cause works on a task's context: Cause asks
// the context for that key once Err is non-nil. If a future Go release asks
// differently, Cause falls back to Err and nothing else breaks.
var cancelCtxKey = sync.OnceValue(func() any {
	p := &keyProbe{}
	_ = context.Cause(p)
	return p.key
})

type keyProbe struct{ key any }

func (*keyProbe) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*keyProbe) Done() <-chan struct{}       { return nil }
func (*keyProbe) Err() error                  { return context.Canceled }
func (p *keyProbe) Value(key any) any {
	if p.key == nil {
		p.key = key
	}
	return nil
}

// ArmQueueDeadline starts, for a task with a deadline of its own
// (WithDeadline) that its owner has just queued, a timer on tb's clock
// that calls expire once the deadline passes, so that a task that can no
// longer run leaves the queue then, not at its admission. The owner calls
// it under its lock, and StopQueueDeadline under the same lock when the
// task leaves the queue. Only for a task that HasDeadline.
func ArmQueueDeadline(c *Task, tb *Timebase, expire func()) {
	x := c.x.Load()
	x.queueStop = tb.AfterFunc(x.deadline.Sub(tb.Time()), expire)
}

// HasDeadline reports whether c has a deadline of its own (WithDeadline):
// one pointer load for a plain task.
func HasDeadline(c *Task) bool {
	x := c.x.Load()
	return x != nil && !x.deadline.IsZero()
}

// StopQueueDeadline stops ArmQueueDeadline's timer of c, if it has one.
func StopQueueDeadline(c *Task) {
	if x := c.x.Load(); x != nil && x.queueStop != nil {
		x.queueStop()
		x.queueStop = nil
	}
}

// DoneCause is context.Cause(ctx) for a wait that ended on ctx.Done(): never
// nil. A Context that breaks the contract (its Done closed while its Err
// still says nil: a custom one that overrides Done, say) would otherwise
// make the wait report nil, as if what it waited for had come (a task
// handed over, a scope idle, a result received), and its caller would go
// on with a task lost or still running. Such a wait reads context.Canceled.
func DoneCause(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return context.Canceled
}
