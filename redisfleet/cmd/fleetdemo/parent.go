package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lazysched/lazysched/redisfleet"
)

// pollEvery is how often the parent asks Redis for the fleet's slots in
// use (and, after the kill, for the dead worker's leases).
const pollEvery = 50 * time.Millisecond

// workerState is a worker's last report.
type workerState struct {
	held, running, done, lost int
}

// workerProc is one worker process, as the parent sees it.
type workerProc struct {
	id     int
	cmd    *exec.Cmd
	stdin  io.WriteCloser // held open: the worker exits when it closes
	stderr *tailBuffer
	state  workerState
	// What happened to it:
	killed   bool
	killedAt workerState // its last report before the kill
	finished bool        // it said "finished"
	exited   bool
	exitErr  error
	failure  string // an "error" line it wrote
}

// workerMsg is a line of a worker's stdout, or (eof) its end and exit.
type workerMsg struct {
	w    *workerProc
	line string
	eof  bool
	err  error // of Wait, with eof
}

// demo is the parent's state while the workers run. Only runParent's loop
// touches it.
type demo struct {
	cfg     config
	out     *view
	fleet   *redisfleet.Limit // the parent's own: it only reads InUse
	client  *redis.Client
	start   time.Time
	workers []*workerProc

	inUse, waiting int64
	peak           int64
	firstGrant     time.Duration // since start; 0 until then
	granted        bool

	// After the kill of the victim:
	killedAt  time.Time
	deadIDs   map[string]bool // the unexpired permits in Redis right after the kill
	recovered bool
	recovery  time.Duration
	tookAll   bool
	tookAllIn time.Duration
	killedPid int
}

// runParent runs the demo and returns the exit status: 0 once the workers
// not killed have done all their jobs, the victim's permits came back to
// the fleet and the fleet never went over its cap.
func runParent(cfg config, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeoutCause(context.Background(), cfg.timeout,
		fmt.Errorf("the demo did not end within -timeout %v", cfg.timeout))
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	srv, err := startRedis(ctx)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer func() {
		srv.stop()
		fmt.Fprintln(stdout, "stopped redis-server")
	}()
	client := redis.NewClient(&redis.Options{Addr: srv.addr})
	defer client.Close()
	// The parent's own Limit of the fleet's name: it asks for nothing, it
	// only reads the fleet's slots in use (InUse).
	fleet, err := redisfleet.New(client, cfg.name, int64(cfg.limit), redisfleet.WithLease(cfg.lease))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer fleet.Close()

	d := &demo{cfg: cfg, out: newView(stdout, cfg.plain), fleet: fleet, client: client}
	defer d.out.close()
	d.out.event(fmt.Sprintf("redis-server on %s; limit %q: a fleet-wide cap of %d slots, lease %v",
		srv.addr, cfg.name, cfg.limit, cfg.lease))
	d.out.event(fmt.Sprintf("%d workers, %d jobs each (%v to %v), each a scheduler with a local cap of %d; worker %d gets kill -9 after %d jobs",
		cfg.workers, cfg.jobs, cfg.minJob, cfg.maxJob, cfg.limit, cfg.victim, cfg.killAfter))

	msgs := make(chan workerMsg, 64)
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "fleetdemo: the demo's own executable:", err)
		return 1
	}
	d.start = time.Now()
	var readers sync.WaitGroup
	defer func() {
		for _, w := range d.workers { // those still running, on an early return
			if !w.exited {
				_ = w.cmd.Process.Kill()
			}
			_ = w.stdin.Close()
		}
		go func() { // drain the readers, which end once their worker has
			for range msgs {
			}
		}()
		readers.Wait()
		close(msgs)
	}()
	for i := 1; i <= cfg.workers; i++ {
		w, err := startWorker(self, cfg, i, srv.addr, msgs, &readers)
		if err != nil {
			fmt.Fprintln(stderr, "fleetdemo:", err)
			return 1
		}
		d.workers = append(d.workers, w)
	}
	d.out.event("workers started; waiting for the first grant (a Limit may wait a lease on a fresh Redis)")

	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for running := cfg.workers; running > 0; {
		select {
		case m := <-msgs:
			if m.eof {
				running--
				d.exited(m)
				continue
			}
			if err := d.line(ctx, m); err != nil {
				fmt.Fprintln(stderr, "fleetdemo:", err)
				return 1
			}
		case <-tick.C:
			if err := d.poll(ctx); err != nil {
				fmt.Fprintln(stderr, "fleetdemo: Redis:", err)
				return 1
			}
		case <-ctx.Done():
			fmt.Fprintln(stderr, "fleetdemo:", context.Cause(ctx))
			return 1
		case s := <-sigs:
			fmt.Fprintln(stderr, "fleetdemo:", s)
			return 1
		}
	}
	// With few jobs, the other workers may be done before the victim's
	// leases have expired: wait for them (a lease and some).
	for deadline := time.Now().Add(2*cfg.lease + time.Second); !d.killedAt.IsZero() && !d.recovered && time.Now().Before(deadline); {
		select {
		case <-tick.C:
		case <-ctx.Done():
			fmt.Fprintln(stderr, "fleetdemo:", context.Cause(ctx))
			return 1
		}
		if err := d.poll(ctx); err != nil {
			fmt.Fprintln(stderr, "fleetdemo: Redis:", err)
			return 1
		}
	}
	_ = d.poll(ctx)
	return d.summary(stderr)
}

// startWorker starts worker i (this program, run again with -worker i);
// the lines of its stdout go to msgs, then an eof message with its exit.
func startWorker(self string, cfg config, i int, addr string, msgs chan<- workerMsg, readers *sync.WaitGroup) (*workerProc, error) {
	cmd := exec.Command(self,
		"-worker", strconv.Itoa(i), "-redis", addr,
		"-workers", strconv.Itoa(cfg.workers), "-jobs", strconv.Itoa(cfg.jobs),
		"-limit", strconv.Itoa(cfg.limit), "-lease", cfg.lease.String(),
		"-victim", strconv.Itoa(cfg.victim), "-kill-after", strconv.Itoa(cfg.killAfter),
		"-min-job", cfg.minJob.String(), "-max-job", cfg.maxJob.String())
	w := &workerProc{id: i, cmd: cmd, stderr: &tailBuffer{max: 4096}}
	cmd.Stderr = w.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if w.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker %d: %w", i, err)
	}
	readers.Add(1)
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			msgs <- workerMsg{w: w, line: sc.Text()}
		}
		msgs <- workerMsg{w: w, eof: true, err: cmd.Wait()}
	}()
	return w, nil
}

// line takes a line of a worker's report; it kills the victim at once when
// its report says it has done killAfter jobs and holds permits.
func (d *demo) line(ctx context.Context, m workerMsg) error {
	w := m.w
	var st workerState
	var done, lost int
	switch {
	case strings.HasPrefix(m.line, "state "):
		if _, err := fmt.Sscanf(m.line, stateFormat, &st.held, &st.running, &st.done, &st.lost); err != nil {
			return fmt.Errorf("worker %d: %q: %w", w.id, m.line, err)
		}
		w.state = st
	case strings.HasPrefix(m.line, "finished "):
		if _, err := fmt.Sscanf(m.line, finishedFormat, &done, &lost); err != nil {
			return fmt.Errorf("worker %d: %q: %w", w.id, m.line, err)
		}
		w.finished = true
		w.state.done, w.state.lost = done, lost
		d.out.event(fmt.Sprintf("worker %d finished: %d of %d jobs done, %d lost, at %s", w.id, done, d.cfg.jobs, lost, d.since(time.Now())))
		return nil
	case strings.HasPrefix(m.line, "error "):
		w.failure = strings.TrimPrefix(m.line, "error ")
		return nil
	default:
		return fmt.Errorf("worker %d: unexpected line %q", w.id, m.line)
	}
	if !d.granted && (st.held > 0 || st.done > 0) {
		d.grantedNow()
	}
	if w.id == d.cfg.victim && !w.killed && st.done >= d.cfg.killAfter && st.held > 0 {
		return d.kill(ctx, w)
	}
	return nil
}

func (d *demo) grantedNow() {
	d.granted = true
	d.firstGrant = time.Since(d.start)
	d.out.event(fmt.Sprintf("first grant %.2fs after the workers started", d.firstGrant.Seconds()))
}

// kill sends SIGKILL to w and notes the fleet's unexpired permits in Redis
// at that moment: w's are among them, and no one will give them back.
func (d *demo) kill(ctx context.Context, w *workerProc) error {
	if err := w.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("kill worker %d: %w", w.id, err)
	}
	d.killedAt = time.Now()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ids, err := liveHolders(pctx, d.client, d.cfg.name)
	if err != nil {
		return fmt.Errorf("Redis, at the kill: %w", err)
	}
	d.deadIDs = ids
	w.killed, w.killedAt = true, w.state
	d.killedPid = w.cmd.Process.Pid
	d.out.event(fmt.Sprintf("killed worker %d (pid %d) with SIGKILL at %s: it had done %d jobs and held %s (%d of the fleet's in Redis)",
		w.id, d.killedPid, d.since(d.killedAt), w.state.done, permits(w.state.held), len(ids)))
	return nil
}

// poll asks Redis for the fleet's slots in use and, after the kill, for
// the leases of the permits held at the kill; then it redraws the view.
func (d *demo) poll(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	inUse, waiting, err := d.fleet.InUse(pctx)
	if err != nil {
		return err
	}
	d.inUse, d.waiting = inUse, waiting
	d.peak = max(d.peak, inUse)
	if !d.granted && inUse > 0 {
		d.grantedNow()
	}
	if !d.killedAt.IsZero() && !d.recovered {
		ids, err := liveHolders(pctx, d.client, d.cfg.name)
		if err != nil {
			return err
		}
		left := 0
		for id := range d.deadIDs {
			if ids[id] {
				left++
			}
		}
		if left == 0 {
			d.recovered, d.recovery = true, time.Since(d.killedAt)
			d.out.event(fmt.Sprintf("worker %d's permits came back %.2fs after the kill (lease %v): the fleet's in use no longer counts them",
				d.cfg.victim, d.recovery.Seconds(), d.cfg.lease))
		}
	}
	if d.recovered && !d.tookAll && inUse == int64(d.cfg.limit) {
		d.tookAll, d.tookAllIn = true, time.Since(d.killedAt)
		d.out.event(fmt.Sprintf("the other workers hold all %d slots %.2fs after the kill", d.cfg.limit, d.tookAllIn.Seconds()))
	}
	d.draw()
	return nil
}

// liveHolders returns the permit ids of the fleet's limit name whose
// lease has not expired, by Redis's clock: the members of {name}:holders
// (scored by lease expiry, in milliseconds; see the redisfleet package's
// doc) scored after TIME, read in one transaction.
func liveHolders(ctx context.Context, c *redis.Client, name string) (map[string]bool, error) {
	var now *redis.TimeCmd
	var holders *redis.ZSliceCmd
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		now = p.Time(ctx)
		holders = p.ZRangeWithScores(ctx, "{"+name+"}:holders", 0, -1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	ms := float64(now.Val().UnixMilli())
	ids := make(map[string]bool)
	for _, z := range holders.Val() {
		if z.Score > ms {
			ids[z.Member.(string)] = true
		}
	}
	return ids, nil
}

// exited takes the end of a worker process.
func (d *demo) exited(m workerMsg) {
	w := m.w
	w.exited, w.exitErr = true, m.err
	_ = w.stdin.Close()
	if w.killed {
		return
	}
	if m.err != nil || !w.finished {
		d.out.event(fmt.Sprintf("worker %d ended early: %v", w.id, exitReason(w)))
	}
}

func exitReason(w *workerProc) string {
	var b strings.Builder
	if w.exitErr != nil {
		b.WriteString(w.exitErr.Error())
	} else {
		b.WriteString("exit status 0")
	}
	if w.failure != "" {
		b.WriteString(": " + w.failure)
	}
	if s := strings.TrimSpace(w.stderr.String()); s != "" {
		b.WriteString("\n" + s)
	}
	return b.String()
}

// since says when t was, from the start of the workers.
func (d *demo) since(t time.Time) string {
	return fmt.Sprintf("t=%.2fs", t.Sub(d.start).Seconds())
}

// summary prints the summary and returns the exit status.
func (d *demo) summary(stderr io.Writer) int {
	d.out.close()
	var lines []string
	var problems []string
	for _, w := range d.workers {
		switch {
		case w.killed:
			lines = append(lines, fmt.Sprintf("  worker %d: killed with SIGKILL after %d jobs done, holding %s", w.id, w.killedAt.done, permits(w.killedAt.held)))
		default:
			lines = append(lines, fmt.Sprintf("  worker %d: %d of %d jobs done, %d lost", w.id, w.state.done, d.cfg.jobs, w.state.lost))
			if w.exitErr != nil || !w.finished || w.state.done != d.cfg.jobs {
				problems = append(problems, fmt.Sprintf("worker %d did not do all its jobs: %s", w.id, exitReason(w)))
			}
		}
	}
	lines = append(lines, fmt.Sprintf("  peak fleet-wide in use: %d of cap %d (sampled every %v)", d.peak, d.cfg.limit, pollEvery))
	if d.peak > int64(d.cfg.limit) {
		problems = append(problems, fmt.Sprintf("the fleet went over its cap: %d in use, cap %d", d.peak, d.cfg.limit))
	}
	if d.cfg.victim > 0 {
		switch v := d.workers[d.cfg.victim-1]; {
		case !v.killed:
			problems = append(problems, fmt.Sprintf("worker %d was not killed", v.id))
		case !d.recovered:
			problems = append(problems, fmt.Sprintf("worker %d's permits did not come back", v.id))
		default:
			lines = append(lines, fmt.Sprintf("  recovery after kill -9: %.2fs (lease %v)", d.recovery.Seconds(), d.cfg.lease))
			if d.tookAll {
				lines = append(lines, fmt.Sprintf("  the other workers held all %d slots: %.2fs after the kill", d.cfg.limit, d.tookAllIn.Seconds()))
			}
		}
	}
	if d.granted {
		lines = append(lines, fmt.Sprintf("  first grant: %.2fs after the workers started", d.firstGrant.Seconds()))
	}
	fmt.Fprintf(d.out.w, "summary, after %.1fs:\n%s\n", time.Since(d.start).Seconds(), strings.Join(lines, "\n"))
	_ = d.out.w.Flush()
	if len(problems) > 0 {
		fmt.Fprintln(stderr, "fleetdemo:", errors.Join(errorsOf(problems)...))
		return 1
	}
	return 0
}

func errorsOf(ss []string) []error {
	errs := make([]error, len(ss))
	for i, s := range ss {
		errs[i] = errors.New(s)
	}
	return errs
}

// tailBuffer keeps the last max bytes written to it (a worker's stderr).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if n := b.buf.Len() - b.max; n > 0 {
		b.buf.Next(n)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// permits says n permits, in the singular for one.
func permits[N int | int64](n N) string {
	if n == 1 {
		return "1 permit"
	}
	return fmt.Sprintf("%d permits", n)
}
