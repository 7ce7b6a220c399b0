package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// holdSlot submits a task named "hold" to sp that takes one slot until
// the returned channel is closed, and returns once it runs.
func holdSlot(sp scheduler.Spawner) (release chan struct{}) {
	release = make(chan struct{})
	started := make(chan struct{})
	_, _ = scheduler.Go(sp, func(ctx context.Context) error {
		close(started)
		<-release
		return nil
	}, lazytask.WithName("hold"))
	<-started
	return release
}

// A fail-fast scope: the first error cancels the scope, so its queued
// tasks never run, and Wait returns the error. The parent, a supervisor,
// is told of the failed child scope as one *ScopeError.
func ExampleFailFast() {
	told := make(chan error, 1)
	s, _ := scheduler.New(scheduler.WithLimit(4),
		scheduler.Supervise(func(_ lazytask.Info, err error) { told <- err }))
	defer s.Shutdown(context.Background())

	// At most one task of the import runs at a time: the others queue.
	imp, _ := s.Root().NewScope(scheduler.WithName("import"), scheduler.FailFast(), scheduler.WithLimit(1))
	gate := make(chan struct{})
	first, _ := scheduler.Go(imp, func(ctx context.Context) error {
		<-gate
		return errors.New("disk full")
	})
	var ran atomic.Int32
	rest := make([]*lazytask.Task[struct{}], 3)
	for i := range rest {
		rest[i], _ = scheduler.Go(imp, func(ctx context.Context) error {
			ran.Add(1)
			return nil
		})
	}
	close(gate)

	fmt.Println("wait:", imp.Wait(context.Background()))
	fmt.Println("first:", first.State())
	for _, h := range rest {
		fmt.Println("queued one:", h.State())
	}
	fmt.Println("the others ran:", ran.Load())
	fmt.Println("root's handler:", <-told)
	// Output:
	// wait: disk full
	// first: failed
	// queued one: canceled
	// queued one: canceled
	// queued one: canceled
	// the others ran: 0
	// root's handler: scope "import": disk full
}

// Hooks follow every task of a scope and of its children without
// wrapping the tasks' functions: a tracer, a metrics collector, a log.
func ExampleWithHooks() {
	var mu sync.Mutex
	var events []string
	note := func(step string) func(context.Context, *scheduler.Scope, lazytask.Handle) {
		return func(_ context.Context, sc *scheduler.Scope, h lazytask.Handle) {
			info := h.Info()
			mu.Lock()
			defer mu.Unlock()
			events = append(events, fmt.Sprintf("%s %s/%s %v", step, sc.Name(), info.Name, info.State))
		}
	}
	s, _ := scheduler.New(scheduler.WithLimit(1))
	thumbs, _ := s.Root().NewScope(scheduler.WithName("thumbs"), scheduler.WithHooks(scheduler.Hooks{
		OnCreate: note("create"),
		OnQueue:  note("queue"),
		OnStart: func(ctx context.Context, sc *scheduler.Scope, h lazytask.Handle) context.Context {
			note("start")(ctx, sc, h)
			return nil // the function runs with ctx
		},
		OnDone: note("done"),
	}))

	h, _ := scheduler.Submit(thumbs, func(ctx context.Context) (int, error) { return 42, nil },
		lazytask.WithName("cat.jpg"))
	_, _ = h.Await(context.Background())
	// OnDone runs after the result is published: Shutdown waits for it.
	_ = s.Shutdown(context.Background())

	fmt.Println(strings.Join(events, "\n"))
	// Output:
	// create thumbs/cat.jpg lazy
	// queue thumbs/cat.jpg lazy
	// start thumbs/cat.jpg running
	// done thumbs/cat.jpg succeeded
}

// Main runs a whole program under a scheduler and returns the exit status
// for os.Exit: a program's main is
//
//	func main() { os.Exit(scheduler.Main(run, 10*time.Second, scheduler.WithLimit(16))) }
//
// The first SIGINT or SIGTERM would cancel run's context and drain the
// scheduler for the grace period; here run returns at once.
func ExampleMain() {
	run := func(ctx context.Context, s *scheduler.Scheduler) error {
		h, err := scheduler.Submit(s, func(ctx context.Context) (string, error) { return "hello", nil })
		if err != nil {
			return err
		}
		v, err := h.Await(ctx)
		fmt.Println(v)
		return err
	}
	code := scheduler.Main(run, 10*time.Second, scheduler.WithLimit(2))
	fmt.Println("exit status:", code, code == scheduler.ExitOK)

	// An error from run is exit status 1 (and a line on os.Stderr).
	code = scheduler.Main(func(context.Context, *scheduler.Scheduler) error {
		return errors.New("no input")
	}, time.Second)
	fmt.Println("exit status:", code, code == scheduler.ExitFailed)
	// Output:
	// hello
	// exit status: 0 true
	// exit status: 1 true
}

// Shield gives cleanup code a context that the task's cancellation does
// not reach, bounded by its own timeout.
func ExampleShield() {
	s, _ := scheduler.New(scheduler.WithLimit(1))
	defer s.Shutdown(context.Background())

	started := make(chan struct{})
	upload, _ := scheduler.Go(s, func(ctx context.Context) error {
		close(started)
		<-ctx.Done() // canceled half-way
		err := scheduler.Shield(ctx, 5*time.Second, func(ctx context.Context) error {
			_, bounded := ctx.Deadline()
			fmt.Println("cleanup: ctx.Err() =", ctx.Err(), "bounded:", bounded)
			return nil // delete the partial upload here
		})
		fmt.Println("cleanup returned", err)
		return context.Cause(ctx)
	})
	<-started
	upload.Cancel(errors.New("user left"))
	fmt.Println("upload:", upload.Wait(context.Background()))
	// Output:
	// cleanup: ctx.Err() = <nil> bounded: true
	// cleanup returned <nil>
	// upload: user left
}

// With a bounded queue (WithQueueLimit) Submit refuses when the queue is
// full, and SubmitWait waits for room until its ctx ends.
func ExampleSubmitWait() {
	s, _ := scheduler.New(scheduler.WithLimit(1), scheduler.WithQueueLimit(2))
	defer s.Shutdown(context.Background())
	release := holdSlot(s) // the only slot is taken

	job := func(ctx context.Context) (string, error) { return "done", nil }
	for range 2 {
		_, _ = scheduler.Submit(s, job) // both wait: the queue is full
	}
	_, err := scheduler.Submit(s, job)
	fmt.Println("Submit:", err, errors.Is(err, scheduler.ErrQueueFull))

	// A SubmitWait whose ctx ends first returns its cause, and a handle
	// canceled with it (the job never runs).
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("gave up"))
	h, err := scheduler.SubmitWait(ctx, s, job)
	fmt.Println("SubmitWait:", err, h.State())

	// Once a slot frees, a queued job starts and SubmitWait gets its place.
	close(release)
	h, err = scheduler.SubmitWait(context.Background(), s, job)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(h.Await(context.Background()))
	// Output:
	// Submit: scheduler: queue full true
	// SubmitWait: gave up canceled
	// done <nil>
}

// NewTask makes a Lazy task bound to a scope: it runs only when started
// or enqueued, and if its scope closes first it is canceled, so nobody
// awaits it for ever.
func ExampleNewTask() {
	s, _ := scheduler.New(scheduler.WithLimit(2))
	defer s.Shutdown(context.Background())

	report := scheduler.NewTask(s, func(ctx context.Context) (string, error) {
		return "report ready", nil
	}, lazytask.WithName("report"))
	fmt.Println(report.Name(), report.State())
	if err := s.Enqueue(report); err != nil { // or report.Start(): now, over the cap
		fmt.Println(err)
		return
	}
	fmt.Println(report.Await(context.Background()))

	nightly, _ := s.Root().NewScope(scheduler.WithName("nightly"))
	never := scheduler.NewTask(nightly, func(ctx context.Context) (int, error) { return 1, nil })
	_ = nightly.Shutdown(context.Background())
	_, err := never.Await(context.Background())
	fmt.Println(never.State(), errors.Is(err, lazytask.ErrScopeClosed))
	// Output:
	// report lazy
	// report ready <nil>
	// canceled true
}

// Snapshot copies the scope tree with its tasks, for debugging: running
// tasks first, then the queued ones in the order they will be admitted,
// then the lazy ones.
func ExampleScheduler_Snapshot() {
	s, _ := scheduler.New(scheduler.WithLimit(1))
	defer s.Shutdown(context.Background())
	crawl, _ := s.Root().NewScope(scheduler.WithName("crawl"), scheduler.WithLimit(4))
	release := holdSlot(s)
	defer close(release)

	fetch := func(ctx context.Context) (int, error) { return 200, nil }
	_, _ = scheduler.Submit(crawl, fetch, lazytask.WithName("fetch a"))
	_, _ = scheduler.Submit(crawl, fetch, lazytask.WithName("fetch b"), lazytask.WithPriority(5))
	_ = scheduler.NewTask(crawl, fetch, lazytask.WithName("retry a"))

	var print func(sc scheduler.ScopeSnapshot, indent string)
	print = func(sc scheduler.ScopeSnapshot, indent string) {
		fmt.Printf("%s%s: limit %d, in use %d, running %d, queued %d, lazy %d\n",
			indent, sc.Name, sc.Limit, sc.InUse, sc.Running, sc.Queued, sc.Lazy)
		for _, t := range sc.Tasks {
			fmt.Printf("%s  %s: %v, priority %d\n", indent, t.Name, t.State, t.Priority)
		}
		for _, c := range sc.Children {
			print(c, indent+"  ")
		}
	}
	print(s.Snapshot(), "")
	// Output:
	// root: limit 1, in use 1, running 1, queued 0, lazy 0
	//   hold: running, priority 0
	//   crawl: limit 4, in use 0, running 0, queued 2, lazy 1
	//     fetch b: queued, priority 5
	//     fetch a: queued, priority 0
	//     retry a: lazy, priority 0
}

// Two schedulers (two services of one process, say) share one cap of 2
// through a limiter.Local; a fleet would use a Redis-backed limit the same
// way (see the redisfleet module).
func ExampleWithSharedLimit() {
	shared, err := limiter.NewLocal(2)
	if err != nil {
		panic(err)
	}
	var running, peak atomic.Int32
	work := func(context.Context) (int, error) {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		running.Add(-1)
		return 1, nil
	}
	var total int
	for range 2 {
		s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithSharedLimit(shared))
		if err != nil {
			panic(err)
		}
		var hs []*lazytask.Task[int]
		for range 10 {
			h, err := scheduler.Submit(s, work)
			if err != nil {
				panic(err)
			}
			hs = append(hs, h)
		}
		for _, h := range hs {
			v, _ := h.Await(context.Background())
			total += v
		}
		if err := s.Shutdown(context.Background()); err != nil {
			panic(err)
		}
	}
	fmt.Println("tasks run:", total, "at most 2 at once:", peak.Load() <= 2, "permits left:", shared.InUse())
	// Output: tasks run: 20 at most 2 at once: true permits left: 0
}

// Timings are kept when asked for: here for every task of the scheduler.
// Without WithTimings (or lazytask.WithTimings on the task) a task reads
// no clock, and its Timings are zero.
func ExampleWithTimings() {
	s, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithTimings())
	if err != nil {
		panic(err)
	}
	defer func() { _ = s.Shutdown(context.Background()) }()
	h, _ := scheduler.Submit(s, func(context.Context) (int, error) { return 42, nil })
	if _, err := h.Await(context.Background()); err != nil {
		panic(err)
	}
	tm := h.Timings()
	fmt.Println("started:", !tm.Started.IsZero(), "finished after it started:", !tm.Finished.Before(tm.Started))

	plain, _ := scheduler.New(scheduler.WithLimit(2))
	defer func() { _ = plain.Shutdown(context.Background()) }()
	p, _ := scheduler.Submit(plain, func(context.Context) (int, error) { return 0, nil })
	_, _ = p.Await(context.Background())
	fmt.Println("without timings:", p.Timings() == lazytask.Timings{})
	// Output:
	// started: true finished after it started: true
	// without timings: true
}
