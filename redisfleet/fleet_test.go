package redisfleet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// The multi-process tests run the test binary again as worker processes
// (TestFleetWorkerProcess), each with a scheduler whose tasks need a permit
// of one Limit on one redis-server. The number of tasks running across the
// fleet is counted apart from the limiter: each task enters and leaves a
// count kept in a file under flock, which also records the peak and the
// order in which tasks started.

// workerEnv holds a worker's spec, in JSON.
const workerEnv = "REDISFLEET_TEST_WORKER"

type workerSpec struct {
	Addr     string
	Name     string
	Limit    int64
	Lease    time.Duration
	LocalCap int
	Tasks    int
	Procs    int    // the number of workers
	Proc     int    // this worker's index in the count
	Counter  string // the count's file
	// A task holds its permit for Hold plus a random part of Jitter, or,
	// for the first attempt of a task, FirstHold if it is set.
	Hold, Jitter, FirstHold time.Duration
}

// fleetCount is the count's file.
type fleetCount struct {
	Running []int  // tasks running, per worker
	Stopped []bool // workers stopped (SIGSTOP, kill -9): left out of the sum
	Peak    int    // the highest sum of Running over workers not stopped
	Order   []byte // the worker of each task started, in order ('0'+index)
}

// updateCount changes the count's file under an exclusive flock and keeps
// its peak. A stopped worker whose tasks have all left (it was resumed and
// they were canceled) is counted again.
func updateCount(path string, n int, f func(*fleetCount)) (fleetCount, error) {
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fleetCount{}, err
	}
	defer file.Close()
	if err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX); err != nil {
		return fleetCount{}, err
	}
	defer syscall.Flock(int(file.Fd()), syscall.LOCK_UN)
	b, err := io.ReadAll(file)
	if err != nil {
		return fleetCount{}, err
	}
	c := fleetCount{Running: make([]int, n), Stopped: make([]bool, n)}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &c); err != nil {
			return fleetCount{}, err
		}
	}
	f(&c)
	sum := 0
	for i, r := range c.Running {
		if c.Stopped[i] && r == 0 {
			c.Stopped[i] = false
		}
		if !c.Stopped[i] {
			sum += r
		}
	}
	c.Peak = max(c.Peak, sum)
	if b, err = json.Marshal(c); err != nil {
		return fleetCount{}, err
	}
	if err := file.Truncate(0); err != nil {
		return fleetCount{}, err
	}
	_, err = file.WriteAt(b, 0)
	return c, err
}

// TestFleetWorkerProcess is not a test: it is the body of a worker process
// of the multi-process tests. It says "id <prefix of its permit ids>" and
// "ready", waits for a line on stdin, runs its tasks (saying "start" as
// each starts, and "lost <unix ns>" as one sees limiter.ErrLeaseLost; such
// a task is submitted again, and must then run to its end), and says
// "done <tasks done> <losses> <permits entered again>".
func TestFleetWorkerProcess(t *testing.T) {
	raw := os.Getenv(workerEnv)
	if raw == "" {
		t.Skip("runs only as a worker process of the multi-process tests")
	}
	var sp workerSpec
	require.NoError(t, json.Unmarshal([]byte(raw), &sp))
	c := redis.NewClient(&redis.Options{Addr: sp.Addr, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	defer c.Close()
	l, err := New(c, sp.Name, sp.Limit, WithLease(sp.Lease))
	require.NoError(t, err)
	defer l.Close()
	s, err := scheduler.New(scheduler.WithLimit(sp.LocalCap), scheduler.WithSharedLimit(l))
	require.NoError(t, err)
	fmt.Println("id", l.idPrefix)
	fmt.Println("ready")
	_, err = bufio.NewReader(os.Stdin).ReadString('\n')
	require.NoError(t, err, "the go line")

	count := func(d int) {
		_, err := updateCount(sp.Counter, sp.Procs, func(c *fleetCount) {
			c.Running[sp.Proc] += d
			if d > 0 {
				c.Order = append(c.Order, byte('0'+sp.Proc))
			}
		})
		if err != nil {
			panic(err) // the count must not be wrong silently
		}
	}
	task := func(hold time.Duration) func(context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			count(1)
			defer count(-1)
			fmt.Println("start")
			tm := time.NewTimer(hold)
			defer tm.Stop()
			select {
			case <-tm.C:
				return 1, nil
			case <-ctx.Done():
				if cause := context.Cause(ctx); errors.Is(cause, limiter.ErrLeaseLost) {
					fmt.Println("lost", time.Now().UnixNano())
				}
				return 0, context.Cause(ctx)
			}
		}
	}
	hold := func() time.Duration {
		if sp.Jitter <= 0 {
			return sp.Hold
		}
		return sp.Hold + rand.N(sp.Jitter)
	}
	first := func() time.Duration {
		if sp.FirstHold > 0 {
			return sp.FirstHold
		}
		return hold()
	}
	var hs []*lazytask.Task[int]
	for range sp.Tasks {
		h, err := scheduler.Submit(s, task(first()))
		require.NoError(t, err)
		hs = append(hs, h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := 0
	for len(hs) > 0 {
		h := hs[0]
		hs = hs[1:]
		_, err := h.Await(ctx)
		switch {
		case err == nil:
			done++
		case errors.Is(err, limiter.ErrLeaseLost):
			h, err := scheduler.Submit(s, task(hold()))
			require.NoError(t, err)
			hs = append(hs, h)
		default:
			t.Fatalf("a task failed: %v", err)
		}
	}
	require.NoError(t, s.Shutdown(ctx))
	st := l.Stats()
	fmt.Println("done", done, st.Losses, st.Reentered)
}

// worker is a worker process, as the test sees it.
type worker struct {
	t       *testing.T
	proc    int
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	id      string        // the prefix of its permit ids
	ready   chan struct{} // closed at "ready"
	started chan struct{} // one per "start"
	lost    chan time.Time
	done    chan string // the "done" line's fields
	exited  chan struct{}
}

// fleet is a redis-server, a count and its workers.
type fleet struct {
	t       *testing.T
	srv     *redisServer
	counter string
	workers []*worker
	n       int
}

func newFleet(t *testing.T, srv *redisServer, specs []workerSpec) *fleet {
	t.Helper()
	f := &fleet{t: t, srv: srv, counter: filepath.Join(t.TempDir(), "count"), n: len(specs)}
	for i, sp := range specs {
		sp.Addr, sp.Name, sp.Proc, sp.Procs, sp.Counter = srv.addr(), t.Name(), i, len(specs), f.counter
		f.workers = append(f.workers, startWorker(t, i, sp))
	}
	for _, w := range f.workers {
		recv(t, w.ready, "a worker's ready")
	}
	return f
}

func startWorker(t *testing.T, i int, sp workerSpec) *worker {
	t.Helper()
	raw, err := json.Marshal(sp)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestFleetWorkerProcess$", "-test.count=1", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), workerEnv+"="+string(raw))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	w := &worker{t: t, proc: i, cmd: cmd, stdin: stdin,
		ready: make(chan struct{}), started: make(chan struct{}, 4*sp.Tasks+16),
		lost: make(chan time.Time, 4*sp.Tasks+16), done: make(chan string, 1), exited: make(chan struct{})}
	idc := make(chan string, 1)
	go func() {
		defer close(w.exited)
		defer close(w.lost)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id "):
				idc <- strings.TrimPrefix(line, "id ")
			case line == "ready":
				close(w.ready)
			case line == "start":
				w.started <- struct{}{}
			case strings.HasPrefix(line, "lost "):
				ns, _ := strconv.ParseInt(strings.TrimPrefix(line, "lost "), 10, 64)
				w.lost <- time.Unix(0, ns)
			case strings.HasPrefix(line, "done "):
				w.done <- strings.TrimPrefix(line, "done ")
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-w.exited
		_ = cmd.Wait()
	})
	w.id = recv(t, idc, "a worker's id")
	return w
}

// start lets every worker run its tasks.
func (f *fleet) start() {
	for _, w := range f.workers {
		_, err := io.WriteString(w.stdin, "go\n")
		require.NoError(f.t, err)
	}
}

// waitStarts waits until w has started n tasks.
func (w *worker) waitStarts(n int) {
	for range n {
		recv(w.t, w.started, "a worker's task start")
	}
}

// result waits for w's "done" line and its exit; it returns the tasks done,
// the permits lost and the permits entered again.
func (w *worker) result() (done, losses, reentered int) {
	line := recv(w.t, w.done, fmt.Sprintf("worker %d's done line", w.proc))
	_, err := fmt.Sscan(line, &done, &losses, &reentered)
	require.NoError(w.t, err, "worker %d's done line %q", w.proc, line)
	recv(w.t, w.exited, fmt.Sprintf("worker %d's exit", w.proc))
	require.NoError(w.t, w.cmd.Wait(), "worker %d's exit status", w.proc)
	return done, losses, reentered
}

// stop marks worker proc as stopped in the count (after it was stopped).
func (f *fleet) stop(proc int) {
	_, err := updateCount(f.counter, f.n, func(c *fleetCount) { c.Stopped[proc] = true })
	require.NoError(f.t, err)
}

func (f *fleet) count() fleetCount {
	c, err := updateCount(f.counter, f.n, func(*fleetCount) {})
	require.NoError(f.t, err)
	return c
}

// waitPermitsGone waits until Redis holds none of w's permits, or holds
// only expired ones (which the next script drops), and returns the moment
// that became so: when the last was released or its lease lapsed, by
// Redis's clock. It wakes on the fleet's messages and at the latest expiry.
func (f *fleet) waitPermitsGone(w *worker) time.Time {
	f.t.Helper()
	ctx := context.Background()
	c := f.srv.client()
	keys, wake := keysFor(f.t.Name())
	ps := c.Subscribe(ctx, wake)
	defer ps.Close()
	_, err := ps.Receive(ctx) // the subscription is in place
	require.NoError(f.t, err)
	msgs := ps.Channel()
	deadline := time.After(waitFor)
	for {
		zs, err := c.ZRangeWithScores(ctx, keys[0], 0, -1).Result()
		require.NoError(f.t, err)
		now, err := c.Time(ctx).Result()
		require.NoError(f.t, err)
		var latest int64
		held := 0
		for _, z := range zs {
			if id, _ := z.Member.(string); strings.HasPrefix(id, w.id+"-") {
				held++
				latest = max(latest, int64(z.Score))
			}
		}
		switch {
		case held == 0:
			return now
		case latest <= now.UnixMilli():
			return time.UnixMilli(latest)
		}
		select {
		case <-msgs:
		case <-time.After(time.Duration(latest-now.UnixMilli()+1) * time.Millisecond):
		case <-deadline:
			f.t.Fatalf("worker %d's %d permits still in Redis after %v", w.proc, held, waitFor)
		}
	}
}

func specs(n int, sp workerSpec) []workerSpec {
	out := make([]workerSpec, n)
	for i := range out {
		out[i] = sp
	}
	return out
}

// 4 processes x 200 tasks under a fleet cap of 5: never more than 5 run
// across the fleet, all run, and while every process still has work, each
// gets its fair share of the permits (a quarter) within a third.
func TestFleetOfFourKeepsTheCapAndShares(t *testing.T) {
	t.Parallel() // each has its own redis-server and processes, and waits more than it computes
	srv := startRedis(t)
	const procs, tasks, limit = 4, 200, 5
	f := newFleet(t, srv, specs(procs, workerSpec{
		Limit: limit, Lease: 2 * time.Second, LocalCap: 8, Tasks: tasks,
		Hold: 2 * time.Millisecond, Jitter: 4 * time.Millisecond,
	}))
	begin := time.Now()
	f.start()
	for _, w := range f.workers {
		done, losses, _ := w.result()
		assert.Equal(t, tasks, done, "worker %d's tasks done", w.proc)
		assert.Zero(t, losses, "worker %d's permits lost", w.proc)
	}
	elapsed := time.Since(begin)
	c := f.count()
	t.Logf("%d tasks over %d processes, fleet cap %d: %v (%.0f tasks/s), peak running fleet-wide %d",
		procs*tasks, procs, limit, elapsed, float64(procs*tasks)/elapsed.Seconds(), c.Peak)
	assert.LessOrEqual(t, c.Peak, limit, "peak running fleet-wide")
	assert.GreaterOrEqual(t, c.Peak, 2, "peak running fleet-wide: the cap was used")
	require.Len(t, c.Order, procs*tasks, "tasks started")

	// The share of each process up to the first that ran all its tasks.
	shares := make([]int, procs)
	prefix := 0
	for i, p := range c.Order {
		shares[p-'0']++
		if shares[p-'0'] == tasks {
			prefix = i + 1
			break
		}
	}
	fair := float64(prefix) / procs
	t.Logf("shares of the first %d starts (all %d processes with work): %v, fair %.1f", prefix, procs, shares, fair)
	for p, n := range shares {
		assert.InDelta(t, fair, float64(n), fair/3, "process %d's share of the first %d starts", p, prefix)
	}
}

// kill -9 of a process while it holds permits: its permits come back
// within a lease and a renewal interval of the kill (as Redis shows them),
// the cap holds, and the others finish all their work.
func TestFleetKilledProcessPermitsComeBack(t *testing.T) {
	t.Parallel() // each has its own redis-server and processes, and waits more than it computes
	srv := startRedis(t)
	const procs, tasks, limit, lease = 3, 150, 5, time.Second
	f := newFleet(t, srv, specs(procs, workerSpec{
		Limit: limit, Lease: lease, LocalCap: 4, Tasks: tasks,
		Hold: 20 * time.Millisecond, Jitter: 20 * time.Millisecond,
	}))
	f.start()
	victim := f.workers[0]
	victim.waitStarts(40)
	// Killed while a task of it runs: under the count's lock, which its
	// tasks take to end, so that the task is still running when the kill
	// lands (between two tasks, it may hold no permit).
	for sent := false; !sent; {
		_, err := updateCount(f.counter, f.n, func(c *fleetCount) {
			if c.Running[victim.proc] > 0 {
				require.NoError(t, victim.cmd.Process.Signal(syscall.SIGKILL))
				sent = true
			}
		})
		require.NoError(t, err)
		if !sent {
			victim.waitStarts(1)
		}
	}
	killed := time.Now()
	<-victim.exited
	f.stop(victim.proc) // a dead process runs nothing
	c := f.count()
	require.Positive(t, c.Running[victim.proc], "tasks running in the victim when it was killed")
	back := f.waitPermitsGone(victim)
	recovery := back.Sub(killed)
	for _, w := range f.workers[1:] {
		done, losses, _ := w.result()
		assert.Equal(t, tasks, done, "worker %d's tasks done", w.proc)
		assert.Zero(t, losses, "worker %d's permits lost", w.proc)
	}
	c = f.count()
	t.Logf("kill -9 of a process running %d tasks: its permits back %v after the kill (lease %v); peak running fleet-wide %d, cap %d",
		c.Running[victim.proc], recovery, lease, c.Peak, limit)
	assert.Less(t, recovery, lease+lease/3+lease/4, "permits back after the kill")
	// Not before: the victim renewed at most a renewal interval (lease/3)
	// before it was killed.
	assert.Greater(t, recovery, lease/2, "permits back after the kill")
	assert.LessOrEqual(t, c.Peak, limit, "peak running fleet-wide")
}

// SIGSTOP of a process holding permits, until its leases have lapsed (Redis
// dropped them), then SIGCONT: its running tasks see limiter.ErrLeaseLost at
// once, the cap holds throughout (the stopped process's frozen tasks are
// left out of the count until they end), and all the work is done.
func TestFleetPausedProcessLosesItsLeases(t *testing.T) {
	t.Parallel() // each has its own redis-server and processes, and waits more than it computes
	srv := startRedis(t)
	const procs, tasks, limit, lease = 3, 60, 5, 1500 * time.Millisecond
	base := workerSpec{Limit: limit, Lease: lease, LocalCap: 4, Tasks: tasks,
		Hold: 20 * time.Millisecond, Jitter: 20 * time.Millisecond}
	sps := specs(procs, base)
	// The victim's tasks hold until they are told their leases are lost.
	sps[0].LocalCap, sps[0].Tasks, sps[0].FirstHold = 2, 2, time.Hour
	for i := 1; i < procs; i++ {
		sps[i].Tasks = 3 * tasks // still at work after the victim's leases lapsed
	}
	f := newFleet(t, srv, sps)
	f.start()
	victim := f.workers[0]
	victim.waitStarts(2)
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGSTOP))
	f.stop(victim.proc)
	f.waitPermitsGone(victim)
	resumed := time.Now() // before: the process may see its losses before Signal returns
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGCONT))
	var worst time.Duration
	for range 2 {
		at := recv(t, victim.lost, "a lost lease in the resumed process")
		worst = max(worst, at.Sub(resumed))
	}
	for _, w := range f.workers {
		done, losses, _ := w.result()
		want := 3 * tasks
		if w == victim {
			want = 2
			assert.Equal(t, 2, losses, "the victim's permits lost")
		} else {
			assert.Zero(t, losses, "worker %d's permits lost", w.proc)
		}
		assert.Equal(t, want, done, "worker %d's tasks done", w.proc)
	}
	c := f.count()
	t.Logf("a process stopped past its lease: both its tasks saw ErrLeaseLost within %v of SIGCONT; peak running fleet-wide %d, cap %d",
		worst, c.Peak, limit)
	assert.LessOrEqual(t, c.Peak, limit, "peak running fleet-wide")
	assert.Less(t, worst, lease/5, "ErrLeaseLost after SIGCONT")
}

// redisFault runs 3 processes of the given tasks under a fleet cap of 5
// and, once 20 tasks have started, does fault to the redis-server: no task
// is lost (each ran to its end, some after a lost lease), the cap holds,
// and the work completes. It returns the permits lost and entered again.
func redisFault(t *testing.T, sp workerSpec, fault func(f *fleet)) (losses, reentered int) {
	srv := startRedis(t)
	const procs, limit = 3, 5
	sp.Limit, sp.LocalCap = limit, 4
	f := newFleet(t, srv, specs(procs, sp))
	begin := time.Now()
	f.start()
	var wg sync.WaitGroup
	starts := make(chan struct{}, procs*sp.Tasks*4)
	for _, w := range f.workers {
		wg.Go(func() {
			for {
				select {
				case <-w.started:
					starts <- struct{}{}
				case <-w.exited:
					return
				}
			}
		})
	}
	for range 20 {
		recv(t, starts, "a task start")
	}
	fault(f)
	for _, w := range f.workers {
		done, l, r := w.result()
		assert.Equal(t, sp.Tasks, done, "worker %d's tasks done", w.proc)
		losses += l
		reentered += r
	}
	wg.Wait()
	c := f.count()
	t.Logf("%d tasks in %v; peak running fleet-wide %d, cap %d; permits lost %d, entered again %d",
		procs*sp.Tasks, time.Since(begin), c.Peak, limit, losses, reentered)
	assert.LessOrEqual(t, c.Peak, limit, "peak running fleet-wide")
	return losses, reentered
}

// SIGSTOP of redis-server for twice a lease, then SIGCONT: the tasks
// running across the pause lose their leases (and are run again), the
// others wait, and all complete.
func TestFleetSurvivesAPausedRedis(t *testing.T) {
	t.Parallel() // each has its own redis-server and processes, and waits more than it computes
	const lease = 300 * time.Millisecond
	losses, _ := redisFault(t, workerSpec{Lease: lease, Tasks: 30, Hold: lease, Jitter: lease}, func(f *fleet) {
		f.srv.signal(syscall.SIGSTOP)
		<-time.After(2 * lease) // the fault's length, not a synchronisation
		f.srv.signal(syscall.SIGCONT)
	})
	assert.Positive(t, losses, "permits lost while Redis was paused")
}

// A restart of redis-server (kill -9, and a new one on the same port, with
// no keys): the holders enter their permits again in the new Redis's grace.
func TestFleetSurvivesARedisRestart(t *testing.T) {
	t.Parallel() // each has its own redis-server and processes, and waits more than it computes
	var down time.Duration
	const lease = time.Second
	_, reentered := redisFault(t, workerSpec{Lease: lease, Tasks: 30, Hold: lease / 3, Jitter: lease / 3}, func(f *fleet) {
		begin := time.Now()
		f.srv.kill()
		f.srv = startRedisOn(t, f.srv.port)
		down = time.Since(begin)
	})
	t.Logf("Redis down %v", down)
	assert.Positive(t, reentered, "permits entered again in the new Redis")
}
