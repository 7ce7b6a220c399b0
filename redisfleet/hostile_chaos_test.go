package redisfleet

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
)

// Several Limits of one name in this process, against one redis-server
// that is killed and restarted without its keys, stopped and continued,
// and whose clients' connections are killed, while requests of random
// weights and priorities come, are withdrawn, are held and released. At
// every grant the slots held (granted, not released, not lost) must fit
// the limit; once it is over, Redis must hold nothing within two leases.
func TestChaosKeepsTheCapAndLeaksNothing(t *testing.T) {
	srv := startRedisOn(t, freePort(t), "--enable-debug-command", "yes")
	admin := srv.client()
	const (
		limit  = 6
		lease  = time.Second
		limits = 4
		askers = 6
	)
	name := t.Name()
	var held, peak atomic.Int64
	var over atomic.Int64
	var grants, lostN, cancels, failed atomic.Int64
	ls := make([]*Limit, limits)
	for i := range ls {
		c := newClientOpts(t, &redis.Options{Addr: srv.addr(), DialTimeout: 200 * time.Millisecond, ReadTimeout: lease})
		ls[i] = newLimit(t, c, name, limit, WithLease(lease))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range limits * askers {
		l := ls[i%limits]
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				wgt := 1 + r.Int64N(3)
				type answer struct {
					p   limiter.Permit
					err error
				}
				got := make(chan answer, 1)
				var mu sync.Mutex
				var counted, gone bool
				lost := make(chan struct{})
				cancel := l.Acquire(limiter.Request{
					Weight:   wgt,
					Priority: int32(r.IntN(3)),
					Granted: func(p limiter.Permit, err error) {
						if err == nil {
							mu.Lock()
							if !gone {
								counted = true
								n := held.Add(wgt)
								if n > limit {
									over.Add(1)
								}
								for {
									pk := peak.Load()
									if n <= pk || peak.CompareAndSwap(pk, n) {
										break
									}
								}
							}
							mu.Unlock()
						}
						got <- answer{p, err}
					},
					Lost: func(error) {
						mu.Lock()
						if counted && !gone {
							gone = true
							held.Add(-wgt)
						}
						mu.Unlock()
						lostN.Add(1)
						close(lost)
					},
				})
				withdraw := r.IntN(4) == 0
				var timeout <-chan time.Time
				if withdraw {
					timeout = time.After(time.Duration(r.IntN(50)) * time.Millisecond)
				}
				var a answer
				select {
				case a = <-got:
				case <-timeout:
					cancel()
					cancels.Add(1)
					select {
					case a = <-got: // raced with the grant
					default:
						continue
					}
				case <-stop:
					cancel()
					select {
					case a = <-got:
					default:
						return
					}
				}
				if a.err != nil {
					failed.Add(1)
					continue
				}
				grants.Add(1)
				select { // hold it a little, or until lost
				case <-time.After(hold(r, lease)):
				case <-lost:
				}
				mu.Lock()
				if counted && !gone {
					gone = true
					held.Add(-wgt)
				}
				mu.Unlock()
				a.p.Release()
			}
		})
	}

	faults := []func(){
		func() { // kill every client connection
			_ = admin.ClientKillByFilter(context.Background(), "TYPE", "normal").Err()
		},
		func() { // stop Redis for less than a lease, then for more
			srv.signal(syscall.SIGSTOP)
			<-time.After(lease / 2)
			srv.signal(syscall.SIGCONT)
		},
		func() { // Redis slow: one long script-blocking command
			assert.NoError(t, admin.Do(context.Background(), "DEBUG", "SLEEP", "0.4").Err())
		},
		func() { // kill -9 and restart without its keys
			srv.kill()
			srv = startRedisOn(t, srv.port, "--enable-debug-command", "yes")
			admin = srv.client()
		},
		func() {
			srv.signal(syscall.SIGSTOP)
			<-time.After(3 * lease / 2)
			srv.signal(syscall.SIGCONT)
		},
	}
	for round := range 2 {
		for i, f := range faults {
			<-time.After(lease) // let traffic run between faults
			f()
			t.Logf("round %d fault %d done: grants %d, lost %d, held now %d", round, i, grants.Load(), lostN.Load(), held.Load())
		}
	}
	<-time.After(lease)
	close(stop)
	wg.Wait()
	t.Logf("grants %d, lost %d, withdrawn %d, failed %d, peak held %d", grants.Load(), lostN.Load(), cancels.Load(), failed.Load(), peak.Load())
	assert.Zero(t, over.Load(), "grants that took the slots held above the limit (peak %d, limit %d)", peak.Load(), limit)
	assert.Positive(t, grants.Load())

	// Nothing is held now: Redis must hold nothing once the Limits have
	// told it, or the leases of what they could not tell have ended.
	deadline := time.Now().Add(2*lease + lease/2)
	for {
		fs, err := ls[0].Fleet(context.Background())
		if err == nil && fs.InUse == 0 && fs.Waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			h, w := fleetKeys(t, admin, name)
			require.Failf(t, "slots leaked", "2.5 leases after the last release: %+v (err %v); holders %d, waiters %d", fs, err, h, w)
		}
		<-time.After(20 * time.Millisecond)
	}
	for _, l := range ls {
		st := l.Stats()
		assert.Zero(t, st.Permits, "a Limit's permits at the end")
		assert.Zero(t, st.Waiting, "a Limit's waiting requests at the end")
	}
}

// hold is how long a permit is kept: mostly a few milliseconds, sometimes
// across a fault.
func hold(r *rand.Rand, lease time.Duration) time.Duration {
	if r.IntN(6) == 0 {
		return time.Duration(r.Int64N(int64(2 * lease)))
	}
	return time.Duration(r.IntN(30)) * time.Millisecond
}
