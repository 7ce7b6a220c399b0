package redisfleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lazysched/lazysched/internal/goid"
	"github.com/lazysched/lazysched/limiter"
)

// Limit is a fleet-wide cap of slots kept in Redis under a name: every
// Limit of that name, in any process, on the same Redis, shares it. It
// implements [limiter.Shared]. Make one with [New]; the zero value is not
// usable (its methods, like a nil Limit's, panic with a message that says
// so), and a Limit must not be copied. Its methods are safe for
// concurrent use.
type Limit struct {
	_        noCopy
	client   redis.UniversalClient
	name     string
	limit    int64
	lease    time.Duration
	graceMs  int64 // the restart grace, in milliseconds (ARGV[1] of every script)
	failFast bool
	hook     func(event)
	keys     []string
	wake     string
	idPrefix string

	ps      *redis.PubSub
	kick    chan struct{} // wakes the loop; capacity 1
	done    chan struct{} // closed by Close
	stopped chan struct{} // closed when the loop has ended
	loopID  atomic.Uint64 // the loop's goroutine (goid.ID): Close, called from a callback it runs, cannot wait for it
	// closerID is the goroutine of the Close that answers what is left
	// (answerClosed): a Close from a callback it runs returns at once.
	closerID atomic.Uint64
	// calls is the parent of the contexts of the loop's calls to Redis;
	// Close cancels it (halt), so that a call on its way (a dial, a retry's
	// back-off, and reads and writes with a client that honours contexts)
	// ends at once instead of holding Close up.
	calls context.Context
	halt  context.CancelFunc

	mu        sync.Mutex
	closed    bool
	nextID    uint64
	pending   []*waiter // in try order: priority, then request order
	held      map[string]*permit
	releases  []string // permit ids to give back
	cancels   []string // waiting entries to remove
	fleetUse  int64
	renewals  uint64
	losses    uint64
	reentered uint64
	graceLeft time.Duration // the restart grace the last attempt found left
	renewSoon bool          // a permit was picked up late: renew it at once
	// inTimer counts, by goroutine (goid.ID), the permit timers calling
	// Lost now (expire): Close waits for them, and a Close from inside
	// one returns at once. timersDone, made by a Close that found some,
	// is closed when the last has returned.
	inTimer    map[uint64]int
	timers     int
	timersDone chan struct{}
}

// noCopy makes go vet's copylocks check refuse copies of a Limit.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// waiter is a request of this Limit not yet answered; under l.mu.
type waiter struct {
	id     string
	seq    uint64
	req    limiter.Request
	member string // its entry in {name}:waiters, once it has one
	// sent: a call for it has been made. One whose reply was lost may
	// have granted it, or entered it in the line, unknown to this Limit.
	sent     bool
	canceled bool
	answered bool
}

// permit is a granted permit of this Limit.
type permit struct {
	l      *Limit
	id     string
	weight int64
	lostFn func(error)
	// Under l.mu:
	epoch    string      // of the Redis that holds it
	deadline time.Time   // when the lease may lapse, by this process's clock
	timer    *time.Timer // declares the permit lost a margin before deadline
	lost     bool
	released bool
	// delivered: Granted has returned. A loss found before (its timer, a
	// renewal) waits in lostCause, so that Lost never comes before Granted.
	delivered bool
	lostCause error
}

// MaxLimit is the largest limit New accepts, 2^53-1: the scripts that keep
// the count in Redis add weights as Lua numbers (doubles), and up to that
// limit a sum of weights that passes it can round no lower than limit+1,
// so the cap check stays exact (at 2^53, 2^53+1 rounds to 2^53 and one
// more request gets in).
const MaxLimit = 1<<53 - 1

// New returns the Limit of limit slots named name on client's Redis, and
// starts its goroutine (stop it with [Limit.Close]). It does not need Redis
// to be reachable yet: requests wait for it (or fail, with [WithFailFast]).
// The client stays the caller's: Close does not close it.
//
// Every Limit of one name should be given the same limit; each applies its
// own when it grants. New refuses a nil client or an empty name
// ([ErrInvalidArgument]) and a limit below 1 or above [MaxLimit]
// ([limiter.ErrInvalidLimit]).
func New(client redis.UniversalClient, name string, limit int64, opts ...Option) (*Limit, error) {
	switch {
	case client == nil:
		return nil, fmt.Errorf("%w: nil client", ErrInvalidArgument)
	case nilPointer(client):
		// A client variable never set (var rdb *redis.Client): the
		// interface is not nil, but its first use would panic.
		return nil, fmt.Errorf("%w: nil client (%T)", ErrInvalidArgument, client)
	case name == "":
		return nil, fmt.Errorf("%w: empty name", ErrInvalidArgument)
	case limit < 1:
		return nil, fmt.Errorf("%w: %d", limiter.ErrInvalidLimit, limit)
	case limit > MaxLimit:
		// Redis's scripts count in Lua numbers, doubles: above 2^53 a
		// sum of weights rounds, and the cap would let one more in.
		return nil, fmt.Errorf("%w: %d is above MaxLimit (2^53-1)", limiter.ErrInvalidLimit, limit)
	}
	cfg := config{lease: DefaultLease, grace: -1}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil Option", ErrInvalidArgument)
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand's contract)
	keys, wake := keysFor(name)
	l := &Limit{
		client:   client,
		name:     name,
		limit:    limit,
		lease:    cfg.lease,
		graceMs:  graceOf(cfg).Milliseconds(),
		failFast: cfg.failFast,
		hook:     cfg.hook,
		keys:     keys,
		wake:     wake,
		idPrefix: hex.EncodeToString(b[:]),
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
		held:     make(map[string]*permit),
	}
	l.calls, l.halt = context.WithCancel(context.Background())
	// No channel yet, so no call to Redis here: the loop subscribes.
	l.ps = client.Subscribe(context.Background())
	go l.run()
	return l, nil
}

// nilPointer reports whether v is a nil pointer in a non-nil interface.
func nilPointer(v any) bool {
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Pointer && r.IsNil()
}

func graceOf(c config) time.Duration {
	if c.grace < 0 {
		return c.lease
	}
	return c.grace
}

// Acquire implements [limiter.Shared]: it enters the request and returns at
// once; the Limit's goroutine asks Redis and calls req.Granted. A request
// of weight below 1 is answered at once with [limiter.ErrInvalidWeight],
// one heavier than the limit with [limiter.ErrWeightTooLarge], and one made
// after Close with [ErrClosed]; those three answers come before Acquire
// returns, on the caller's goroutine. The cancel function withdraws a
// request still unanswered: Granted is then never called for it, and a
// grant Redis made for it meanwhile is given back by this Limit. Once the
// request is answered cancel does nothing: Granted has been called, or is
// being called, and what it hands over is the caller's.
//
// Granted and Lost should not panic. One that does on the Limit's
// goroutine is recovered and logged (slog's default logger, with the
// stack), and the Limit goes on with its other requests; a permit whose
// Granted panicked is released at once, since nothing can be trusted to
// hold it.
func (l *Limit) Acquire(req limiter.Request) (cancel func()) {
	l.live()
	if req.Granted == nil {
		panic("redisfleet: Acquire with a nil Request.Granted")
	}
	switch {
	case req.Weight < 1:
		req.Granted(nil, fmt.Errorf("%w: %d", limiter.ErrInvalidWeight, req.Weight))
		return func() {}
	case req.Weight > l.limit:
		req.Granted(nil, fmt.Errorf("%w: weight %d, limit %d", limiter.ErrWeightTooLarge, req.Weight, l.limit))
		return func() {}
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		req.Granted(nil, fmt.Errorf("%w: %s", ErrClosed, l.name))
		return func() {}
	}
	l.nextID++
	w := &waiter{id: l.idPrefix + "-" + strconv.FormatUint(l.nextID, 36), seq: l.nextID, req: req}
	i, _ := slices.BinarySearchFunc(l.pending, w, func(a, b *waiter) int {
		if a.req.Priority != b.req.Priority {
			if a.req.Priority > b.req.Priority {
				return -1
			}
			return 1
		}
		if a.seq < b.seq {
			return -1
		}
		return 1
	})
	l.pending = slices.Insert(l.pending, i, w)
	l.mu.Unlock()
	l.poke()
	return func() { l.cancel(w) }
}

// cancel withdraws w, if it is still unanswered.
func (l *Limit) cancel(w *waiter) {
	l.mu.Lock()
	if w.answered || w.canceled {
		l.mu.Unlock()
		return
	}
	w.canceled = true
	l.dropPendingLocked(w)
	if w.member != "" {
		l.cancels = append(l.cancels, w.member)
	}
	if w.sent {
		// A call whose reply was lost (or one under way) may have granted
		// w, or entered it in the line: the release by id takes back
		// either, and the loop flushes it after any call under way.
		l.releases = append(l.releases, w.id)
	}
	l.mu.Unlock()
	l.poke()
}

func (l *Limit) dropPendingLocked(w *waiter) {
	if i := slices.Index(l.pending, w); i >= 0 {
		l.pending = slices.Delete(l.pending, i, i+1)
	}
}

// poke wakes the loop without blocking.
func (l *Limit) poke() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Release implements [limiter.Permit]: it gives the permit back. It never
// blocks: the Limit's goroutine tells Redis, and wakes the fleet's waiters.
// A second call does nothing.
func (p *permit) Release() {
	l := p.l
	l.mu.Lock()
	if p.released {
		l.mu.Unlock()
		return
	}
	p.released = true
	p.timer.Stop()
	delete(l.held, p.id)
	l.releases = append(l.releases, p.id)
	l.mu.Unlock()
	l.poke()
}

// expire is p's timer: the lease was not renewed in time.
func (p *permit) expire() {
	l := p.l
	l.mu.Lock()
	// Once l is closed, Close answers the permits held (answerClosed).
	if p.released || p.lost || l.closed {
		l.mu.Unlock()
		return
	}
	if left := time.Until(p.deadline) - l.margin(); left > 0 {
		p.timer.Reset(left) // renewed while this call was on its way
		l.mu.Unlock()
		return
	}
	l.markLostLocked(p)
	// Counted, so that Close waits for this Lost (no callback of l's
	// runs after Close returns), unless Lost itself calls Close.
	id := goid.ID()
	if l.inTimer == nil {
		l.inTimer = make(map[uint64]int)
	}
	l.inTimer[id]++
	l.timers++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		if l.inTimer[id]--; l.inTimer[id] == 0 {
			delete(l.inTimer, id)
		}
		if l.timers--; l.timers == 0 && l.timersDone != nil {
			close(l.timersDone)
			l.timersDone = nil
		}
		l.mu.Unlock()
	}()
	p.notifyLost(fmt.Errorf("%w: not renewed within %v (lease %v)", limiter.ErrLeaseLost, l.lease-l.margin(), l.lease))
}

func (l *Limit) markLostLocked(p *permit) {
	p.lost = true
	p.timer.Stop()
	l.losses++
}

func (p *permit) notifyLost(cause error) {
	p.l.mu.Lock()
	if !p.delivered {
		p.lostCause = cause // told once Granted has returned
		p.l.mu.Unlock()
		return
	}
	p.l.mu.Unlock()
	if p.lostFn != nil {
		p.l.guard("Lost", func() { p.lostFn(cause) })
	}
	if h := p.l.hook; h != nil {
		h(event{kind: evLost, id: p.id, err: cause})
	}
}

// guard runs f, which calls a request's Granted or Lost (named what) on
// l's goroutine or in Close, and reports whether it panicked. The panic is
// logged with slog's default logger, with its stack, and goes no further:
// it ends neither l's goroutine, whose other requests would never be
// answered, nor the program.
func (l *Limit) guard(what string, f func()) (panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			panicked = true
			slog.Error("redisfleet: a request's "+what+" panicked", "limit", l.name, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	f()
	return false
}

// margin is how long before its lease could lapse a permit is declared
// lost.
func (l *Limit) margin() time.Duration { return l.lease / 5 }

// Stats is a snapshot of a [Limit], from [Limit.Stats].
type Stats struct {
	// Held is the number of slots this Limit's permits hold (granted, not
	// yet released), and Permits the number of those permits.
	Held    int64
	Permits int
	// FleetInUse is the number of slots held across the fleet, as the last
	// script this Limit ran found it (see [Limit.InUse] for a fresh figure).
	FleetInUse int64
	// Waiting is the number of requests of this Limit not yet answered.
	Waiting int
	// Renewals counts lease renewals that succeeded, one per permit.
	Renewals uint64
	// Losses counts permits declared lost (Request.Lost called).
	Losses uint64
	// Reentered counts permits entered again in a Redis that had lost them
	// (restarted), during its restart grace: see [WithRestartGrace].
	Reentered uint64
}

// Stats returns a snapshot of l's counters. It does not call Redis.
func (l *Limit) Stats() Stats {
	l.live()
	l.mu.Lock()
	defer l.mu.Unlock()
	st := Stats{
		Permits:    len(l.held),
		FleetInUse: l.fleetUse,
		Waiting:    len(l.pending),
		Renewals:   l.renewals,
		Losses:     l.losses,
		Reentered:  l.reentered,
	}
	for _, p := range l.held {
		st.Held += p.weight
	}
	return st
}

// InUse asks Redis for the number of slots held across the fleet and the
// number of requests waiting, expired leases left out. On failure it
// returns Redis's error. [Limit.Fleet] tells more.
func (l *Limit) InUse(ctx context.Context) (inUse int64, waiting int64, err error) {
	f, err := l.Fleet(ctx)
	return f.InUse, f.Waiting, err
}

// FleetStats is the state of a limit across the fleet, from [Limit.Fleet].
type FleetStats struct {
	// InUse is the number of slots held, expired leases left out.
	InUse int64
	// Waiting is the number of requests waiting, and WaitingProcesses the
	// number of Limits (one per process, as a rule) they come from.
	Waiting          int64
	WaitingProcesses int64
	// HoldingProcesses is the number of Limits that hold permits.
	HoldingProcesses int64
	// Grace is what is left of a fresh Redis's restart grace (see
	// [WithRestartGrace]); 0 once it is over.
	Grace time.Duration
}

// Fleet asks Redis for the limit's state across the fleet. On failure it
// returns Redis's error.
func (l *Limit) Fleet(ctx context.Context) (FleetStats, error) {
	l.live()
	v, err := inUseScript.Run(ctx, l.client, l.keys, l.graceMs).Int64Slice()
	if err != nil {
		return FleetStats{}, err
	}
	if len(v) != 5 {
		return FleetStats{}, errors.New("redisfleet: unexpected reply from the in-use script")
	}
	return FleetStats{InUse: v[0], Waiting: v[1], Grace: time.Duration(v[2]) * time.Millisecond,
		HoldingProcesses: v[3], WaitingProcesses: v[4]}, nil
}

// Close stops l's goroutine. Requests still waiting get [ErrClosed] and
// their Redis entries are removed; permits still held get Lost (with
// [limiter.ErrLeaseLost] and [ErrClosed]), and are given back, with those
// released but not yet told to Redis. Close answers them itself, at once,
// so that no callback of l's runs after it returns. The calls to Redis that
// tell it are given at most one lease: a call on its way is canceled, and
// if Redis does not answer (a Redis frozen, a client that does not honour
// contexts) Close returns after one lease all the same, the leases expire
// on their own, and l's goroutine ends once the client gives its call up.
// Close waits too for a Lost that a permit's timer is calling (a lease
// not renewed in time), within the same lease. Shut the schedulers that
// use l down first. Called from inside a Granted or Lost (a request's
// answer, ErrClosed included), Close returns at once, and l stops as soon
// as that callback has returned. Calling Close again
// does no more (it waits like the first call).
func (l *Limit) Close() error {
	l.live()
	id := goid.ID()
	l.mu.Lock()
	first := !l.closed
	l.closed = true // Acquire refuses from now on
	l.mu.Unlock()
	if first {
		l.closerID.Store(id)
		l.answerClosed() // before done: the loop's last flush tells Redis
		l.halt()
		close(l.done)
		l.closerID.Store(0)
	}
	if id != 0 && (id == l.loopID.Load() || id == l.closerID.Load()) {
		return nil // a callback of the loop's or of the first Close's
	}
	l.mu.Lock()
	if id != 0 && l.inTimer[id] > 0 {
		l.mu.Unlock()
		return nil // a Lost called by a permit's timer
	}
	var timers chan struct{}
	if l.timers > 0 { // none starts now: l is closed
		if l.timersDone == nil {
			l.timersDone = make(chan struct{})
		}
		timers = l.timersDone
	}
	l.mu.Unlock()
	t := time.NewTimer(l.lease)
	defer t.Stop()
	if timers != nil {
		select {
		case <-timers: // the Lost calls of permits' timers have returned
		case <-t.C:
			return nil
		}
	}
	select {
	case <-l.stopped:
	case <-t.C:
	}
	return nil
}

// live returns l, or panics with a message that names the mistake for a
// nil or zero Limit (a zero one has no goroutine to answer it).
func (l *Limit) live() *Limit {
	if l == nil || l.done == nil {
		panic("redisfleet: method called on a nil or zero *Limit (make one with New)")
	}
	return l
}

// priorityKey orders priorities as strings: higher first.
func priorityKey(p int32) string {
	return fmt.Sprintf("%08x", uint32(int64(math.MaxInt32)-int64(p)))
}
