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
		l, err := New(c, f[1], int64(limit), WithLease(lease), withHook(ev))
		require.NoError(t, err)
		got := make(chan grant, 1)
		ask(l, "waits", 0, got)
		waitEvent(t, ev, evQueued, 0)
		fmt.Println("queued")
		select {} // until kill -9
	}
	l, err := New(c, f[1], int64(n), WithLease(lease))
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
