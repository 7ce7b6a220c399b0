package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// hmpScope is one scope of the policy stress tree.
type hmpScope struct {
	sc       *scheduler.Scope
	failFast bool
	// handler reports of a supervisor: task errors and child scope errors.
	mu           sync.Mutex
	taskReports  map[string]int // by task name
	scopeReports int
}

type hmpTask struct {
	h     *lazytask.Task[int]
	scope *hmpScope
	name  string
	dones atomic.Int32
}

// TestHMPolicyStress drives random scope trees with random policies,
// timeouts and caps; tasks that succeed, fail, panic, wait for their
// context and return its error, its cause or a real error, spawn more
// tasks and wait on their scope from inside; and, from outside, cancels
// and graceful or expired shutdowns of random scopes. At the end: every
// accepted task ended once and its callback ran once; every failure of a
// supervised scope's task reached its handler exactly once; a fail-fast
// scope's Err holds exactly its failed tasks' errors plus one per failed
// child scope; the root's Stats agree with the handles.
func TestHMPolicyStress(t *testing.T) {
	for seed := range hmpSeeds() {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { hmpRun(t, seed) })
		})
	}
}

func hmpRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	var rmu sync.Mutex
	rnd := func(n int) int { rmu.Lock(); defer rmu.Unlock(); return rng.IntN(n) }
	s, err := scheduler.New(scheduler.WithLimit(1+rnd(4)), scheduler.WithLogger(hsQuietLog))
	if err != nil {
		t.Fatal(err)
	}
	var scopes []*hmpScope
	root := &hmpScope{sc: s.Root()}
	scopes = append(scopes, root)
	for range 2 + rnd(6) {
		p := scopes[rnd(len(scopes))]
		x := &hmpScope{taskReports: map[string]int{}}
		var opts []scheduler.Option
		if rnd(2) == 0 {
			x.failFast = true
			opts = append(opts, scheduler.FailFast())
		} else {
			opts = append(opts, scheduler.Supervise(func(info lazytask.Info, err error) {
				x.mu.Lock()
				defer x.mu.Unlock()
				var se *scheduler.ScopeError
				if errors.As(err, &se) && info.Name == se.Scope {
					x.scopeReports++
					return
				}
				x.taskReports[info.Name]++
			}))
		}
		if rnd(3) == 0 {
			opts = append(opts, scheduler.WithLimit(1+rnd(2)))
		}
		if rnd(4) == 0 {
			opts = append(opts, scheduler.WithTimeout(time.Duration(1+rnd(50))*time.Millisecond))
		}
		sc, err := p.sc.NewScope(opts...)
		if err != nil {
			t.Fatal(err)
		}
		x.sc = sc
		scopes = append(scopes, x)
	}
	scopes = scopes[1:] // the root is a default supervisor: not checked
	var mu sync.Mutex
	var tasks []*hmpTask
	var count atomic.Int32
	var submit func(x *hmpScope, depth int)
	body := func(x *hmpScope, depth int) func(ctx context.Context) (int, error) {
		kind := rnd(9)
		n := depth
		return func(ctx context.Context) (int, error) {
			if depth < 3 && count.Load() < 300 {
				for range rnd(3) {
					submit(scopes[rnd(len(scopes))], depth+1)
				}
			}
			switch kind {
			case 0:
				return n, nil
			case 1:
				return 0, fmt.Errorf("hm: real error %d", n)
			case 2:
				panic(fmt.Sprintf("hm: panic %d", n))
			case 3:
				select {
				case <-ctx.Done():
					return 0, ctx.Err()
				case <-time.After(time.Duration(rnd(40)) * time.Millisecond):
					return n, nil
				}
			case 4:
				select {
				case <-ctx.Done():
					return 0, context.Cause(ctx)
				case <-time.After(time.Duration(rnd(40)) * time.Millisecond):
					return 0, errors.New("hm: late failure")
				}
			case 5:
				<-ctx.Done()
				return 0, errors.New("hm: failed while cancelling")
			case 6:
				_ = x.sc.Wait(ctx)
				return n, ctx.Err()
			case 7:
				time.Sleep(time.Duration(rnd(20)) * time.Millisecond) // fake time
				return n, nil
			default:
				return 0, scheduler.Shield(ctx, time.Millisecond, func(sctx context.Context) error {
					<-ctx.Done()
					return nil
				})
			}
		}
	}
	submit = func(x *hmpScope, depth int) {
		idx := count.Add(1)
		name := fmt.Sprintf("t%d", idx)
		h, err := scheduler.Submit(x.sc, body(x, depth), lazytask.WithName(name))
		if err != nil {
			if !errors.Is(err, scheduler.ErrClosed) && !errors.Is(err, scheduler.ErrScopeCanceled) {
				t.Errorf("Submit: %v", err)
			}
			return
		}
		tk := &hmpTask{h: h, scope: x, name: name}
		h.OnDone(func(int, error) { tk.dones.Add(1) })
		mu.Lock()
		tasks = append(tasks, tk)
		mu.Unlock()
	}
	for range 10 + rnd(20) {
		submit(scopes[rnd(len(scopes))], 0)
	}
	var wg sync.WaitGroup
	for range 1 + rnd(3) {
		x := scopes[rnd(len(scopes))]
		op := rnd(3)
		delay := time.Duration(rnd(30)) * time.Millisecond
		wg.Go(func() {
			time.Sleep(delay)
			switch op {
			case 0:
				x.sc.Cancel(errors.New("hm: external cancel"))
			case 1:
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rnd(20))*time.Millisecond)
				defer cancel()
				_ = x.sc.Shutdown(ctx)
			default:
				// a second call of its own escalates at once
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
				defer cancel()
				go func() { <-ctx.Done(); _ = x.sc.Shutdown(context.Background()) }()
				_ = x.sc.Shutdown(context.Background())
			}
		})
	}
	wg.Wait()
	grace, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = s.Shutdown(grace)
	synctest.Wait()

	var succeeded, failed, canceled uint64
	failedIn := map[*hmpScope][]*hmpTask{}
	for _, tk := range tasks {
		switch tk.h.State() {
		case lazytask.Succeeded:
			succeeded++
		case lazytask.Failed:
			failed++
			failedIn[tk.scope] = append(failedIn[tk.scope], tk)
		case lazytask.Canceled:
			canceled++
		default:
			t.Errorf("%s: %v after Shutdown", tk.name, tk.h.State())
		}
		if n := tk.dones.Load(); n != 1 {
			t.Errorf("%s: done callback ran %d times", tk.name, n)
		}
	}
	st := s.Stats()
	if st.Succeeded != succeeded || st.Failed != failed || st.Canceled != canceled {
		t.Errorf("Stats %d/%d/%d succeeded/failed/canceled, handles %d/%d/%d", st.Succeeded, st.Failed, st.Canceled, succeeded, failed, canceled)
	}
	for _, x := range scopes {
		if x.failFast {
			joined := hsJoined(x.sc.Err())
			var own int
			for _, e := range joined {
				var se *scheduler.ScopeError
				if !errors.As(e, &se) {
					own++
				}
			}
			if own != len(failedIn[x]) {
				t.Errorf("fail-fast %s: Err holds %d task errors, %d tasks failed: %v", x.sc.Name(), own, len(failedIn[x]), x.sc.Err())
			}
			for _, tk := range failedIn[x] {
				found := false
				for _, e := range joined {
					if e == tk.h.Err() {
						found = true
					}
				}
				if !found {
					t.Errorf("fail-fast %s: %s's error %v not in Err", x.sc.Name(), tk.name, tk.h.Err())
				}
			}
			continue
		}
		x.mu.Lock()
		for _, tk := range failedIn[x] {
			if n := x.taskReports[tk.name]; n != 1 {
				t.Errorf("supervisor %s: %s (%v) reported %d times", x.sc.Name(), tk.name, tk.h.Err(), n)
			}
		}
		total := 0
		for _, n := range x.taskReports {
			total += n
		}
		if total != len(failedIn[x]) {
			t.Errorf("supervisor %s: %d task reports, %d tasks failed", x.sc.Name(), total, len(failedIn[x]))
		}
		x.mu.Unlock()
	}
}

func hmpSeeds() uint64 {
	if n := os.Getenv("HM_SEEDS"); n != "" {
		v, _ := strconv.Atoi(n)
		return uint64(v)
	}
	if testing.Short() {
		return 10
	}
	return 40
}
