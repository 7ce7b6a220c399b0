package redisfleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lazysched/lazysched/internal/goid"
	"github.com/lazysched/lazysched/limiter"
)

// event tells a test what the loop did; see config.hook.
type event struct {
	prio int32 // the request's priority, for evQueued and evGranted
	kind evKind
	id   string // the request or permit
	err  error
}

type evKind int

const (
	evQueued      evKind = iota // an attempt found no room: the request waits in Redis
	evGranted                   // a request was granted
	evUnavailable               // an attempt could not reach Redis
	evRenewed                   // a renewal round succeeded
	evLost                      // a permit was declared lost
)

func (l *Limit) emit(e event) {
	if l.hook != nil {
		l.hook(e)
	}
}

// run is l's goroutine: every call to Redis is made here, one at a time.
// It gives back released permits and withdrawn requests first, then renews
// leases when due, then tries its waiting requests, and then waits for a
// wake-up: a new request, cancel or release here, a message on the wake
// channel, the renewal tick (lease/3), the safety re-check (lease/2), or
// the retry after Redis could not be reached.
func (l *Limit) run() {
	l.loopID.Store(goid.ID())
	defer close(l.stopped)
	// The PubSub keeps the channel even if this fails, and subscribes to it
	// when it (re)connects.
	ctx, cancel := l.callCtx()
	_ = l.ps.Subscribe(ctx, l.wake)
	cancel()
	msgs := l.ps.ChannelWithSubscriptions()
	renew := time.NewTicker(l.lease / 3)
	defer renew.Stop()
	safety := time.NewTicker(l.lease / 2)
	defer safety.Stop()
	retry := time.NewTimer(0)
	retry.Stop()
	defer retry.Stop()
	graceOver := time.NewTimer(0) // a fresh Redis's restart grace ends
	graceOver.Stop()
	defer graceOver.Stop()
	backoff := l.minBackoff()

	attempt, renewDue := true, false
	for {
		l.flush()
		if renewDue {
			renewDue = false
			l.renew()
		}
		for attempt {
			var err error
			attempt, err = l.tryPending()
			if err != nil {
				retry.Reset(backoff)
				backoff = min(2*backoff, l.lease/2)
			} else {
				backoff = l.minBackoff()
			}
			if attempt {
				// Granting can go on for long (a queue of short tasks,
				// room to spare): meanwhile, give back what was released
				// and renew the leases on time, and let Close in.
				l.flush()
				select {
				case <-renew.C:
					l.renew()
				case <-l.done:
					attempt = false
				default:
				}
			}
		}
		l.mu.Lock()
		if g := l.graceLeft; g > 0 {
			l.graceLeft = 0
			graceOver.Reset(g)
		}
		soon := l.renewSoon
		l.renewSoon = false
		l.mu.Unlock()
		if soon {
			l.renew()
		}
		select {
		case <-l.done: // first, once Close has come: the rest can wait
			l.shutdown(msgs)
			return
		default:
		}
		select {
		case <-l.done:
			l.shutdown(msgs)
			return
		case <-l.kick:
			attempt = true
		case m := <-msgs: // a wake message, or a (re)subscription after a reconnect
			attempt = attempt || l.wakes(m)
		case <-renew.C:
			renewDue = true
		case <-safety.C:
			attempt = true
		case <-retry.C:
			attempt = true
		case <-graceOver.C:
			attempt = true
		}
	}
}

// wakes reports whether a message on the wake channel calls for an attempt:
// every one does but a grant that names other processes only.
func (l *Limit) wakes(m any) bool {
	msg, ok := m.(*redis.Message)
	if !ok {
		return true // a (re)subscription: messages may have been missed
	}
	owners, ok := strings.CutPrefix(msg.Payload, "grant ")
	if !ok {
		return true
	}
	for o := range strings.FieldsSeq(owners) {
		if o == l.idPrefix {
			return true
		}
	}
	return false
}

func (l *Limit) minBackoff() time.Duration { return max(l.lease/20, 5*time.Millisecond) }

// callCtx bounds one call to Redis (where the client honours contexts) by
// a lease, and by Close.
func (l *Limit) callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(l.calls, l.lease)
}

// flush tells Redis of the permits released and the requests withdrawn
// since the last call. If Redis cannot be reached it keeps them for the
// next round; a permit's lease expires on its own anyway.
func (l *Limit) flush() { l.flushUnder(l.calls) }

// flushUnder is flush with its call bounded by a lease under parent.
func (l *Limit) flushUnder(parent context.Context) {
	l.mu.Lock()
	ids, members := l.releases, l.cancels
	l.releases, l.cancels = nil, nil
	l.mu.Unlock()
	if len(ids) == 0 && len(members) == 0 {
		return
	}
	args := make([]any, 0, 4+len(ids)+len(members))
	args = append(args, l.graceMs, l.limit, l.lease.Milliseconds(), len(ids))
	for _, id := range ids {
		args = append(args, id)
	}
	for _, m := range members {
		args = append(args, m)
	}
	ctx, cancel := context.WithTimeout(parent, l.lease)
	used, err := releaseScript.Run(ctx, l.client, l.keys, args...).Int64()
	cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		// Keep them for the next round; at Close they are dropped.
		l.releases = append(ids, l.releases...)
		l.cancels = append(members, l.cancels...)
		return
	}
	l.fleetUse = used
}

// renew extends the leases of every permit held and not lost, in one call.
// A permit that Redis no longer holds is lost at once, unless Redis lost
// it in a restart and is still in its grace: then it is entered again. One
// whose renewal could not be made is lost by its timer.
func (l *Limit) renew() {
	l.mu.Lock()
	var ps []*permit
	args := []any{l.graceMs, l.lease.Milliseconds()}
	now := time.Now()
	for _, p := range l.held {
		// One whose lease may have lapsed is left to its timer: it could
		// be held by another process now.
		if !p.lost && now.Before(p.deadline.Add(-l.margin())) {
			ps = append(ps, p)
			args = append(args, p.id, p.weight, p.epoch)
		}
	}
	l.mu.Unlock()
	if len(ps) == 0 {
		return
	}
	sent := time.Now()
	ctx, cancel := l.callCtx()
	res, err := renewScript.Run(ctx, l.client, l.keys, args...).Slice()
	cancel()
	var ok []any
	var epoch string
	if err == nil {
		var used int64
		used, ok, epoch, err = parseRenew(res, len(ps))
		if err == nil {
			l.mu.Lock()
			l.fleetUse = used
			l.mu.Unlock()
		}
	}
	if err != nil {
		return // the timers declare the permits lost if this goes on
	}
	var gone []*permit
	l.mu.Lock()
	for i, p := range ps {
		if p.released || p.lost {
			continue
		}
		if n, _ := ok[i].(int64); n == 1 || n == 2 {
			if n == 2 {
				l.reentered++
			}
			l.renewals++
			p.epoch = epoch
			p.deadline = sent.Add(l.lease)
			p.timer.Reset(time.Until(p.deadline) - l.margin())
			continue
		}
		l.markLostLocked(p)
		gone = append(gone, p)
	}
	l.mu.Unlock()
	l.emit(event{kind: evRenewed})
	for _, p := range gone {
		p.notifyLost(fmt.Errorf("%w: lease %s no longer held in Redis", limiter.ErrLeaseLost, p.id))
	}
}

func parseRenew(res []any, n int) (int64, []any, string, error) {
	if len(res) == 3 {
		used, ok1 := res[0].(int64)
		flags, ok2 := res[1].([]any)
		epoch, ok3 := res[2].(string)
		if ok1 && ok2 && ok3 && len(flags) == n {
			return used, flags, epoch, nil
		}
	}
	return 0, nil, "", errors.New("redisfleet: unexpected reply from the renew script")
}

// tryPending tries each waiting request once, in priority then request
// order. It reports whether to try again at once (a grant was made, so the
// next in line may fit) and the error of a call that could not reach Redis,
// after which it stops trying this round, unless it fails fast: then every
// request is tried, and answered with the error.
func (l *Limit) tryPending() (again bool, err error) {
	l.mu.Lock()
	ws := append([]*waiter(nil), l.pending...)
	l.mu.Unlock()
	var last error
	for _, w := range ws {
		granted, err := l.try(w)
		if err != nil {
			if !l.failFast {
				return false, err
			}
			last = err
		}
		again = again || granted
	}
	return again, last
}

// try runs the acquire script for w and answers it if it was granted, or
// given up on.
func (l *Limit) try(w *waiter) (granted bool, err error) {
	l.mu.Lock()
	if w.canceled || w.answered {
		l.mu.Unlock()
		return false, nil
	}
	member := w.member
	w.sent = true
	l.mu.Unlock()

	sent := time.Now()
	ctx, cancel := l.callCtx()
	res, err := acquireScript.Run(ctx, l.client, l.keys, l.graceMs,
		l.limit, w.id, w.req.Weight, priorityKey(w.req.Priority), l.lease.Milliseconds(), member).Slice()
	cancel()
	var used, leftMs int64
	var epoch string
	if err == nil {
		var g int64
		g, member, used, epoch, leftMs, err = parseAcquire(res)
		granted = g == 1
	}
	if err != nil {
		l.emit(event{kind: evUnavailable, id: w.id, err: err})
		if !l.failFast {
			return false, err
		}
		l.mu.Lock()
		if w.canceled || w.answered {
			l.mu.Unlock()
			return false, err
		}
		w.answered = true
		l.dropPendingLocked(w)
		if w.member != "" {
			l.cancels = append(l.cancels, w.member)
		}
		// The call may have reached Redis and only its reply was lost: if
		// it granted (or entered) the request, the release takes it back.
		l.releases = append(l.releases, w.id)
		l.mu.Unlock()
		l.guard("Granted", func() { w.req.Granted(nil, fmt.Errorf("%w: %v", limiter.ErrSharedUnavailable, err)) })
		return false, err
	}

	l.mu.Lock()
	l.fleetUse = used
	w.member = member
	left := time.Duration(leftMs) * time.Millisecond
	if !granted && left > l.graceLeft {
		l.graceLeft = left
	}
	switch {
	case (w.canceled || w.answered) && granted:
		// The cancel won, or Close answered it meanwhile: give it back.
		l.releases = append(l.releases, w.id)
		l.mu.Unlock()
		return true, nil
	case w.canceled || w.answered:
		l.cancels = append(l.cancels, member)
		l.mu.Unlock()
		return false, nil
	case !granted:
		l.mu.Unlock()
		l.emit(event{kind: evQueued, id: w.id, prio: w.req.Priority})
		return false, nil
	}
	w.answered = true
	l.dropPendingLocked(w)
	p := &permit{l: l, id: w.id, weight: w.req.Weight, lostFn: w.req.Lost, epoch: epoch, deadline: sent.Add(min(left, l.lease))}
	p.timer = time.AfterFunc(time.Until(p.deadline)-l.margin(), p.expire)
	l.held[p.id] = p
	if left < l.lease/2 {
		// A grant made for w a while ago: renew before the next tick.
		l.renewSoon = true
	}
	l.mu.Unlock()
	l.emit(event{kind: evGranted, id: w.id, prio: w.req.Priority})
	if l.guard("Granted", func() { w.req.Granted(p, nil) }) {
		// Nobody can be trusted to hold p: kept, it would be renewed,
		// and its slots taken from the fleet, until Close.
		p.Release()
	}
	l.mu.Lock()
	p.delivered = true
	cause := p.lostCause
	l.mu.Unlock()
	if cause != nil {
		p.notifyLost(cause) // lost while Granted ran, or before it was called
	}
	return true, nil
}

func parseAcquire(res []any) (granted int64, member string, used int64, epoch string, leftMs int64, err error) {
	if len(res) == 5 {
		g, ok1 := res[0].(int64)
		m, ok2 := res[1].(string)
		u, ok3 := res[2].(int64)
		e, ok4 := res[3].(string)
		gr, ok5 := res[4].(int64)
		if ok1 && ok2 && ok3 && ok4 && ok5 {
			return g, m, u, e, gr, nil
		}
	}
	return 0, "", 0, "", 0, errors.New("redisfleet: unexpected reply from the acquire script")
}

// shutdown tells Redis what Close gave back, with a call of its own given
// one lease (Close has canceled l.calls), and ends the subscription.
func (l *Limit) shutdown(msgs <-chan any) {
	l.flushUnder(context.Background()) // Close answered what was left before done
	l.mu.Lock()
	l.releases, l.cancels = nil, nil
	l.mu.Unlock()
	_ = l.ps.Close()
	for range msgs { // the PubSub's goroutine may be sending one: let it end
	}
}

// answerClosed answers what is left of a closed l: each waiting request
// gets ErrClosed, each permit held Lost, and both are queued for the last
// flush. A waiter whose attempt is on its way is answered here all the
// same; try gives back what that attempt got. Once only for each.
func (l *Limit) answerClosed() {
	closed := fmt.Errorf("%w: %s", ErrClosed, l.name)
	l.mu.Lock()
	ws := l.pending
	l.pending = nil
	var lost []*permit
	for _, w := range ws {
		w.answered = true
		if w.member != "" {
			l.cancels = append(l.cancels, w.member)
		}
		if w.sent {
			l.releases = append(l.releases, w.id) // as cancel does
		}
	}
	for id, p := range l.held {
		delete(l.held, id)
		p.released = true
		p.timer.Stop()
		l.releases = append(l.releases, id)
		if !p.lost {
			p.lost = true
			lost = append(lost, p)
		}
	}
	l.mu.Unlock()
	for _, p := range lost {
		p.notifyLost(fmt.Errorf("%w: %w", limiter.ErrLeaseLost, closed))
	}
	for _, w := range ws {
		l.guard("Granted", func() { w.req.Granted(nil, closed) })
	}
}
