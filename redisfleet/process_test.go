package redisfleet

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
)

// The environment of a holder process: the Redis address, the limit's
// name, its lease, how many permits of weight 1 to take, and optionally
// the limit and "wait": then it asks for one permit and says "queued" once
// its request waits in Redis.
const holderEnv = "REDISFLEET_TEST_HOLDER"

// TestHolderProcess is not a test: it is the body of the holder process
// that TestKilledHolderPermitsComeBack starts (the test binary run again).
// It takes its permits, says "held" on stdout, and waits to be killed.
func TestHolderProcess(t *testing.T) {
	spec := os.Getenv(holderEnv)
	if spec == "" {
		t.Skip("runs only as the holder process of TestKilledHolderPermitsComeBack")
	}
	f := strings.Split(spec, ",")
	lease, err := time.ParseDuration(f[2])
	require.NoError(t, err)
	n, err := strconv.Atoi(f[3])
	require.NoError(t, err)
	c := redis.NewClient(&redis.Options{Addr: f[0]})
	if len(f) == 6 && f[5] == "wait" {
		limit, err := strconv.Atoi(f[4])
		require.NoError(t, err)
		ev := events()
		l, err := New(c, f[1], int64(limit), WithLease(lease), WithRestartGrace(0), withHook(ev))
		require.NoError(t, err)
		got := make(chan grant, 1)
		ask(l, "waits", 0, got)
		waitEvent(t, ev, evQueued, 0)
		fmt.Println("queued")
		select {} // until kill -9
	}
	l, err := New(c, f[1], int64(n), WithLease(lease), WithRestartGrace(0))
	require.NoError(t, err)
	got := make(chan grant, n)
	for range n {
		ask(l, "held", 0, got)
	}
	for range n {
		require.NoError(t, recv(t, got, "a holder's grant").err)
	}
	fmt.Println("held")
	select {} // until kill -9
}

// A process that holds permits and is killed (-9) gives them back to the
// fleet once their leases expire, and not before: another process is
// granted the whole limit within a lease and a safety re-check (lease/2)
// of the kill.
func TestKilledHolderPermitsComeBack(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	const lease, n = time.Second, 3
	cmd := exec.Command(os.Args[0], "-test.run=^TestHolderProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%s,%v,%d", holderEnv, srv.addr(), name, lease, n))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	held := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "held" {
				close(held)
			}
		}
	}()
	recv(t, held, "the holder process's permits")

	l := newLimit(t, srv.client(), name, n, WithLease(lease))
	fs, err := l.Fleet(t.Context())
	require.NoError(t, err)
	require.Equal(t, int64(n), fs.InUse, "slots in use while the holder runs")
	require.Equal(t, int64(1), fs.HoldingProcesses, "processes holding permits")

	got := make(chan grant, 1)
	l.Acquire(limiter.Request{Weight: n, Granted: func(p limiter.Permit, err error) { got <- grant{"all", p, err} }})
	require.NoError(t, cmd.Process.Kill())
	killed := time.Now()
	g := recv(t, got, "the whole limit after the kill")
	since := time.Since(killed)
	require.NoError(t, g.err)
	t.Logf("the whole limit granted %v after kill -9 of its holder (lease %v)", since, lease)
	assert.Less(t, since, lease+lease/2+lease/4, "granted after the kill")
	// Not before the lease could lapse: the holder renewed at most a
	// renewal interval (lease/3) before it was killed.
	assert.Greater(t, since, lease/2, "granted after the kill")
	g.p.Release()
}

// A process whose request waits at the head of the line and is killed
// (-9) does not stop the line: when permits come back, the call that finds
// room grants its request on its behalf (the slot is held for a lease at
// most) and grants the next request at once, not when the dead request's
// entry would have lapsed.
func TestKilledWaiterDoesNotStopTheLine(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	const lease, limit = 2 * time.Second, 2
	holder := newLimit(t, srv.client(), name, limit, WithLease(lease), WithRestartGrace(0))
	got := make(chan grant, 4)
	ask(holder, "h1", 0, got)
	ask(holder, "h2", 0, got)
	h1, h2 := recv(t, got, "h1"), recv(t, got, "h2")
	require.NoError(t, h1.err)
	require.NoError(t, h2.err)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHolderProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%s,%v,%d,%d,wait", holderEnv, srv.addr(), name, lease, 1, limit))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = cmd.Wait()
	})
	queued := make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "queued" {
				close(queued)
			}
		}
	}()
	recv(t, queued, "the waiter process's request in Redis")

	ev := events()
	next := newLimit(t, srv.client(), name, limit, WithLease(lease), WithRestartGrace(0), withHook(ev))
	ask(next, "next", 0, got)
	waitEvent(t, ev, evQueued, 0) // behind the waiter process's request
	fs, err := next.Fleet(t.Context())
	require.NoError(t, err)
	assert.Equal(t, FleetStats{InUse: 2, Waiting: 2, WaitingProcesses: 2, HoldingProcesses: 1}, fs, "the fleet before the kill")
	require.NoError(t, cmd.Process.Kill())
	<-exited
	released := time.Now()
	h1.p.Release()
	h2.p.Release()
	g := recv(t, got, "the request behind the dead one")
	since := time.Since(released)
	require.NoError(t, g.err)
	require.Equal(t, "next", g.tag)
	t.Logf("granted %v after the release, behind a dead process's request (lease %v)", since, lease)
	assert.Less(t, since, lease/4, "granted after the release")
	inUse, waiting, err := next.InUse(t.Context())
	require.NoError(t, err)
	assert.Equal(t, int64(2), inUse, "slots in use: next's and the one granted for the dead request")
	assert.Zero(t, waiting, "requests waiting")
	g.p.Release()
}

// A request granted on its behalf by another process's call, and withdrawn
// before its own process picked the grant up, gives the permit back: the
// next request is granted, the withdrawn one never is.
func TestWithdrawnRequestGivesBackAGrantMadeForIt(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	const lease = 2 * time.Second
	a := newLimit(t, srv.client(), name, 1, WithLease(lease), WithRestartGrace(0))
	got := make(chan grant, 4)
	ask(a, "a", 0, got)
	ga := recv(t, got, "a's grant")
	require.NoError(t, ga.err)

	// b's goroutine stops at its first evQueued, until the test lets it go:
	// it cannot pick up a grant meanwhile.
	queued, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	b := newLimit(t, srv.client(), name, 1, WithLease(lease), WithRestartGrace(0), optionFunc(func(c *config) error {
		c.hook = func(e event) {
			if e.kind == evQueued {
				once.Do(func() {
					close(queued)
					<-resume
				})
			}
		}
		return nil
	}))
	cancelB := ask(b, "b", 0, got)
	recv(t, queued, "b's request in the line")

	ev := events()
	c := newLimit(t, srv.client(), name, 1, WithLease(lease), WithRestartGrace(0), withHook(ev))
	ask(c, "c", 0, got)
	waitEvent(t, ev, evQueued, 0) // behind b
	ga.p.Release()
	// a's release wakes c, whose call grants the head of the line, b's
	// request, for b; c waits on.
	keys, _ := keysFor(name)
	admin := srv.client()
	for {
		waitEvent(t, ev, evQueued, 0)
		if n, err := admin.HLen(t.Context(), keys[7]).Result(); err == nil && n > 0 {
			break // the grant made for b is there
		}
	}
	cancelB()
	close(resume)
	withdrawn := time.Now()
	g := recv(t, got, "c's grant once b's is given back")
	require.NoError(t, g.err)
	// Not when the grant made for b would have lapsed: given back at once.
	assert.Less(t, time.Since(withdrawn), lease/4, "c granted after b's request was withdrawn")
	require.Equal(t, "c", g.tag, "the request granted")
	fs, err := c.Fleet(t.Context())
	require.NoError(t, err)
	assert.Equal(t, FleetStats{InUse: 1, HoldingProcesses: 1}, fs, "the fleet with c's permit alone")
	g.p.Release()
	select {
	case x := <-got:
		t.Fatalf("a withdrawn request was answered: %+v", x)
	default:
	}
}

// A script call that drops a waiting request whose entry expired (its
// process died) wakes the fleet: the requests behind it may fit now, and
// only a script call grants them.
func TestAnExpiredWaitingRequestWakesTheFleet(t *testing.T) {
	srv := startRedis(t)
	c := srv.client()
	name := t.Name()
	l := newLimit(t, c, name, 2, WithRestartGrace(0))
	_, err := l.Fleet(t.Context()) // makes the epoch
	require.NoError(t, err)
	keys, wake := keysFor(name)
	sub := c.Subscribe(t.Context(), wake)
	t.Cleanup(func() { _ = sub.Close() })
	_, err = sub.Receive(t.Context()) // the subscription's confirmation
	require.NoError(t, err)
	// A dead process's request, entered long ago and never refreshed.
	const member = "0:0000000000000001:dead-1"
	require.NoError(t, c.ZAdd(t.Context(), keys[2], redis.Z{Score: 0, Member: member}).Err())
	require.NoError(t, c.ZAdd(t.Context(), keys[3], redis.Z{Score: 1, Member: member}).Err())
	require.NoError(t, c.HSet(t.Context(), keys[8], member, 2).Err())
	st, err := l.Fleet(t.Context())
	require.NoError(t, err)
	assert.Zero(t, st.Waiting, "Fleet().Waiting once the expired request is dropped")
	select {
	case m := <-sub.Channel():
		assert.Equal(t, "expired", m.Payload, "message on the wake channel")
	case <-time.After(waitFor):
		t.Fatal("no message on the wake channel after an expired request was dropped")
	}
}

// A first acquire whose reply is lost is retried without its member: the
// retry must find what the first call did (a grant, or an entry in the
// line) by the request's id, not make a second entry or a second permit.
func TestARetriedFirstAcquireFindsWhatTheLostReplyDid(t *testing.T) {
	srv := startRedis(t)
	c := srv.client()
	name := t.Name()
	keys, _ := keysFor(name)
	const limit, lease = 1, 60_000
	acquire := func(id string) (granted int64, member string, used int64) {
		t.Helper()
		res, err := acquireScript.Run(t.Context(), c, keys, 0, limit, id, 1, priorityKey(0), lease, "").Slice()
		require.NoError(t, err, "acquire %s", id)
		g, m, u, _, _, err := parseAcquire(res)
		require.NoError(t, err)
		return g, m, u
	}
	g, _, used := acquire("p-1")
	require.Equal(t, int64(1), g, "first request, line empty: granted")
	g, _, used2 := acquire("p-1") // its reply was lost: the retry
	assert.Equal(t, int64(1), g, "the retry of a granted request is granted")
	assert.Equal(t, used, used2, "slots in use after the retry; want the same permit, not a second")

	g, m1, _ := acquire("p-2") // the cap is taken: p-2 enters the line
	require.Equal(t, int64(0), g)
	g, m2, _ := acquire("p-2") // its reply was lost: the retry
	assert.Equal(t, int64(0), g)
	assert.Equal(t, m1, m2, "the retry's member; want the entry the first call made")
	n, err := c.ZCard(t.Context(), keys[2]).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "entries in the line after the retry")

	// A release by id (what fail-fast sends for a call whose reply was
	// lost) also takes back the entry that call made.
	g, _, _ = acquire("p-3")
	require.Equal(t, int64(0), g, "p-3 waits")
	_, err = releaseScript.Run(t.Context(), c, keys, 0, limit, lease, 1, "p-3").Result()
	require.NoError(t, err)
	n, err = c.ZCard(t.Context(), keys[2]).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "entries in the line after p-3's release by id; want p-2's alone")

	// p-1 ends; p-2's next call (with its member) picks up its grant, and
	// nothing of its entry is left.
	_, err = releaseScript.Run(t.Context(), c, keys, 0, limit, lease, 1, "p-1").Result()
	require.NoError(t, err)
	g, _, _ = acquire("p-2")
	assert.Equal(t, int64(1), g, "p-2 after p-1's release")
	for i, k := range []string{keys[2], keys[3]} {
		n, err := c.ZCard(t.Context(), k).Result()
		require.NoError(t, err)
		assert.Zero(t, n, "entries left in %s", []string{"waiters", "waitexp"}[i])
	}
	left, err := c.HLen(t.Context(), keys[8]).Result()
	require.NoError(t, err)
	assert.Zero(t, left, "waitw fields left")
	left, err = c.HLen(t.Context(), keys[7]).Result()
	require.NoError(t, err)
	assert.Zero(t, left, "granted fields left")
}

// A permit whose lease lapses while its Granted call still runs (Granted
// is slow: nothing renews it meanwhile) is declared lost, but Lost comes
// only once Granted has returned, never before the permit was handed over.
func TestLostComesAfterGrantedReturns(t *testing.T) {
	srv := startRedis(t)
	l := newLimit(t, srv.client(), t.Name(), 1, WithLease(minLease), WithRestartGrace(0))
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	lost := make(chan error, 1)
	l.Acquire(limiter.Request{
		Weight: 1,
		Granted: func(p limiter.Permit, err error) {
			mu.Lock()
			order = append(order, "granted")
			mu.Unlock()
			<-release
			mu.Lock()
			order = append(order, "granted returns")
			mu.Unlock()
		},
		Lost: func(cause error) {
			mu.Lock()
			order = append(order, "lost")
			mu.Unlock()
			lost <- cause
		},
	})
	require.Eventually(t, func() bool { return l.Stats().Losses == 1 }, waitFor, time.Millisecond,
		"the permit declared lost while Granted blocks")
	mu.Lock()
	assert.Equal(t, []string{"granted"}, order, "calls while Granted still runs")
	mu.Unlock()
	close(release)
	select {
	case err := <-lost:
		assert.ErrorIs(t, err, limiter.ErrLeaseLost)
	case <-time.After(waitFor):
		t.Fatal("Lost never came after Granted returned")
	}
	mu.Lock()
	assert.Equal(t, []string{"granted", "granted returns", "lost"}, order)
	mu.Unlock()
}

// The restart grace is the longest any Limit of the name asks for: a
// Limit with none that touches a fresh Redis first does not cut short the
// grace another needs.
func TestTheRestartGraceIsTheLongestAsked(t *testing.T) {
	srv := startRedis(t)
	name := t.Name()
	short := newLimit(t, srv.client(), name, 1, WithRestartGrace(0))
	st, err := short.Fleet(t.Context()) // makes the epoch, with no grace
	require.NoError(t, err)
	require.Zero(t, st.Grace, "grace after the Limit without one")
	long := newLimit(t, srv.client(), name, 1, WithRestartGrace(time.Hour))
	st, err = long.Fleet(t.Context())
	require.NoError(t, err)
	assert.Greater(t, st.Grace, 59*time.Minute, "grace after a Limit that asks for an hour")
	st, err = short.Fleet(t.Context())
	require.NoError(t, err)
	assert.Greater(t, st.Grace, 59*time.Minute, "grace seen by the Limit without one, after")
}
