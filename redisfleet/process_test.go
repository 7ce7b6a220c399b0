package redisfleet

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
)

// The environment of a holder process: the Redis address, the limit's
// name, its lease, and how many permits of weight 1 to take.
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
	inUse, _, err := l.InUse(t.Context())
	require.NoError(t, err)
	require.Equal(t, int64(n), inUse, "InUse while the holder runs")

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
