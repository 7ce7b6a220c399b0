//go:build linux

package errgroup_test

import (
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/errgroup"
)

// x/sync runs each function on a goroutine of its own, which exits when
// the function returns: a function that locks its OS thread (to change
// per-thread state: a network namespace with setns, say) and returns
// without unlocking it has that thread terminated with its goroutine, as
// runtime.LockOSThread documents, so no other code runs on the tainted
// thread. A function of a Group does not have that guarantee (its
// goroutine is the scheduler's, reused): the package doc says so.
func TestHostileThreadLockedThreadIsNotReusedByOtherFunctions(t *testing.T) {
	if os.Getenv("LAZYSCHED_KNOWN") != "1" {
		t.Skip("known: a function's goroutine is the scheduler's and runs other functions after it, on a thread the function left locked (documented in the package doc)")
	}
	var g errgroup.Group
	g.SetLimit(1)
	var mu sync.Mutex
	tainted := map[int]bool{}
	var reused []int
	for range 50 {
		g.Go(func() error {
			tid := syscall.Gettid()
			mu.Lock()
			if tainted[tid] {
				reused = append(reused, tid)
			}
			mu.Unlock()
			runtime.LockOSThread()
			tid = syscall.Gettid()
			mu.Lock()
			tainted[tid] = true
			mu.Unlock()
			return nil // returns with the thread still locked
		})
	}
	require.NoError(t, g.Wait())
	assert.Empty(t, reused, "functions ran on threads that an earlier function left locked (and tainted)")
}
