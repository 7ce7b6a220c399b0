package goid_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/lazysched/lazysched/internal/goid"
)

// ID tells goroutines apart and is stable on one.
func TestIDTellsGoroutinesApart(t *testing.T) {
	me := goid.ID()
	if me == 0 || goid.ID() != me {
		t.Fatalf("ID() = %d, then %d", me, goid.ID())
	}
	other := make(chan uint64)
	go func() { other <- goid.ID() }()
	if o := <-other; o == 0 || o == me {
		t.Fatalf("another goroutine's ID() = %d, mine %d", o, me)
	}
}

// Creator names the goroutine that started the caller, however deep the
// caller's stack is, and the main test goroutine's creator is not itself.
func TestCreatorNamesTheStarter(t *testing.T) {
	me := goid.ID()
	got := make(chan uint64)
	go func() { got <- goid.Creator() }()
	if c := <-got; c != me {
		t.Fatalf("goid.Creator() in a goroutine I started = %d, want %d", c, me)
	}
	var deep func(int) uint64
	deep = func(n int) uint64 {
		if n == 0 {
			return goid.Creator()
		}
		return deep(n-1) + 0*uint64(n)
	}
	go func() { got <- deep(2000) }()
	if c := <-got; c != me {
		t.Fatalf("goid.Creator() 2,000 frames down = %d, want %d", c, me)
	}
	if c := goid.Creator(); c == me {
		t.Fatalf("goid.Creator() of the test's goroutine is its own id %d", me)
	}
}

// Creators names each live goroutine's creator: a chain of two goroutines
// below the test's is found whole.
func TestCreatorsNamesEachLiveGoroutinesCreator(t *testing.T) {
	me := goid.ID()
	ids := make(chan uint64, 2)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		ids <- goid.ID()
		go func() {
			ids <- goid.ID()
			<-stop
			close(done)
		}()
		<-stop
	}()
	child, grandchild := <-ids, <-ids
	m := goid.Creators("")
	close(stop)
	<-done
	if _, live := m[me]; !live {
		t.Fatalf("Creators has no entry for the live test goroutine %d", me)
	}
	if stopped := goid.Creators("TestCreatorsNamesEachLiveGoroutinesCreator"); stopped[me] != 0 {
		t.Fatalf("Creators(stop) gave the test goroutine, whose trace holds stop, creator %d", stopped[me])
	}
	if m[child] != me || m[grandchild] != child {
		t.Fatalf("Creators: child %d -> %d (want %d), grandchild %d -> %d (want %d)",
			child, m[child], me, grandchild, m[grandchild], child)
	}
}

// With GODEBUG=tracebackancestors the traces go on past the creator's line
// with the ancestors' (whose lines name no goroutine): Creator still reads
// the first. The test runs itself again with the setting.
func TestCreatorUnderTracebackAncestors(t *testing.T) {
	if os.Getenv("GOID_TEST_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCreatorUnderTracebackAncestors$", "-test.v")
		cmd.Env = append(os.Environ(), "GOID_TEST_CHILD=1", "GODEBUG=tracebackancestors=10")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(string(out), "creator read under tracebackancestors") {
			t.Fatalf("the child ran no check:\n%s", out)
		}
		return
	}
	me := goid.ID()
	got := make(chan [2]uint64)
	go func() {
		mid := goid.ID()
		go func() { got <- [2]uint64{mid, goid.Creator()} }()
	}()
	r := <-got
	if r[1] != r[0] || r[0] == me {
		t.Fatalf("Creator() = %d, want %d (test goroutine %d)", r[1], r[0], me)
	}
	t.Log("creator read under tracebackancestors")
}
