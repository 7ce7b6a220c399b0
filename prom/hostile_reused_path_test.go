package lazyprom_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

// A crawler makes a scope per host, shuts it down when the host is done,
// and makes a new one of the same name when the host comes back. The
// scope shut down is released by its scheduler at once, but it stays in
// the Collector's set until a garbage collection has run its cleanup (or
// for as long as the program holds it, in a map of hosts, say): until
// then the scrape summed it with the live scope of its path, and
// lazysched_scope_limit_slots{scope="root/example.com"} read 4 per scope
// ever made under that name, 12 here, where the one scope there is has a
// cap of 4.
func TestHostileAScopeShutDownDoesNotAddItsCapToTheLiveOneOfItsPath(t *testing.T) {
	c := newCollector(t)
	scrape := served(t, c)
	s := newSched(t, c, scheduler.WithLimit(16))
	var old []*scheduler.Scope
	for range 2 {
		sc, err := s.Root().NewScope(scheduler.WithName("example.com"), scheduler.WithLimit(4))
		require.NoError(t, err)
		h, err := scheduler.Go(sc, func(context.Context) error { return nil })
		require.NoError(t, err)
		require.NoError(t, h.Wait(bounded(t)))
		require.NoError(t, sc.Shutdown(bounded(t)))
		old = append(old, sc)
	}
	live, err := s.Root().NewScope(scheduler.WithName("example.com"), scheduler.WithLimit(4))
	require.NoError(t, err)
	started, release := make(chan struct{}, 2), make(chan struct{})
	for range 2 {
		_, err := scheduler.Go(live, func(context.Context) error { started <- struct{}{}; <-release; return nil })
		require.NoError(t, err)
	}
	<-started
	<-started
	fams := scrape()
	assert.Equal(t, 4.0, byScope(fams, "lazysched_scope_limit_slots")["root/example.com"], "the cap of the one live scope of the path")
	assert.Equal(t, 2.0, byScope(fams, "lazysched_scope_running")["root/example.com"], "its running tasks")
	assert.Equal(t, 2.0, byScope(fams, "lazysched_scope_in_use_slots")["root/example.com"], "its slots taken")
	close(release)
	require.NoError(t, s.Shutdown(bounded(t)))
	// All of the path's scopes shut down: their gauges stay, as those of
	// a scope shut down do, one cap's worth.
	fams = scrape()
	assert.Equal(t, 0.0, byScope(fams, "lazysched_scope_running")["root/example.com"], "running after Shutdown")
	assert.Equal(t, 4.0, byScope(fams, "lazysched_scope_limit_slots")["root/example.com"], "the cap after Shutdown")
	runtime.KeepAlive(old)
}

// A program that runs one scheduler per batch under one Collector (a
// process-wide registry) shuts each down before the next: the root of a
// scheduler shut down, still held (here by the test, in a program by the
// Collector's cache of the last scope it looked up, or until a garbage
// collection), no longer adds its cap to the live root's.
func TestHostileARootShutDownDoesNotAddItsCapToTheNextSchedulersRoot(t *testing.T) {
	c := newCollector(t)
	scrape := served(t, c)
	first := newSched(t, c, scheduler.WithLimit(8))
	h, err := scheduler.Go(first, func(context.Context) error { return nil })
	require.NoError(t, err)
	require.NoError(t, h.Wait(bounded(t)))
	require.NoError(t, first.Shutdown(bounded(t)))
	second := newSched(t, c, scheduler.WithLimit(3))
	h, err = scheduler.Go(second, func(context.Context) error { return nil })
	require.NoError(t, err)
	require.NoError(t, h.Wait(bounded(t)))
	assert.Equal(t, 3.0, byScope(scrape(), "lazysched_scope_limit_slots")["root"], "the live scheduler's cap")
	runtime.KeepAlive(first)
}
