package lazyprom_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	lazyprom "github.com/lazysched/lazysched/prom"
	"github.com/lazysched/lazysched/scheduler"
)

// seriesOf returns the scope labels of a family's series.
func seriesOf(fams map[string]*dto.MetricFamily, name string) map[string]bool {
	out := map[string]bool{}
	for _, m := range fams[name].GetMetric() {
		out[labels(m)["scope"]] = true
	}
	return out
}

// runIn runs one task in a new child of parent named name, shuts the
// child down (so that the scheduler lets it go) and drops it.
func runIn(t *testing.T, parent *scheduler.Scope, name string) {
	t.Helper()
	sc, err := parent.NewScope(scheduler.WithName(name))
	require.NoError(t, err)
	h, err := scheduler.Go(sc, func(context.Context) error { return nil })
	require.NoError(t, err)
	require.NoError(t, h.Wait(bounded(t)))
	require.NoError(t, sc.Shutdown(bounded(t)))
}

// With WithForgetScopes, a scope let go takes its series with it (scraped
// over HTTP from a real registry), while a scope alive keeps them; without
// it, the counters of a scope let go stay.
func TestForgetScopesDropsTheSeriesOfScopesLetGo(t *testing.T) {
	gone := make(chan string, 16)
	lazyprom.SetReleased(func(path string) { gone <- path })
	t.Cleanup(func() { lazyprom.SetReleased(nil) })

	for _, forget := range []bool{true, false} {
		var opts []lazyprom.Option
		if forget {
			opts = append(opts, lazyprom.WithForgetScopes())
		}
		c := newCollector(t, opts...)
		scrape := served(t, c)
		s := newSched(t, c, scheduler.WithLimit(4))
		runIn(t, s.Root(), "gone")
		stays, err := s.Root().NewScope(scheduler.WithName("stays"))
		require.NoError(t, err)
		h, err := scheduler.Go(stays, func(context.Context) error { return nil })
		require.NoError(t, err)
		require.NoError(t, h.Wait(bounded(t)))
		before := seriesOf(scrape(), "lazysched_tasks_total")
		require.True(t, before["root/gone"], "a series of the scope before it is let go")

		if forget {
			// The scope goes with a garbage collection and its cleanup.
			deadline := time.After(20 * time.Second)
		wait:
			for {
				runtime.GC()
				select {
				case p := <-gone:
					require.Equal(t, "root/gone", p, "the path forgotten")
					break wait
				case <-time.After(20 * time.Millisecond): // the cleanup runs on its own goroutine
				case <-deadline:
					t.Fatal("the scope let go was not forgotten within 20s")
				}
			}
		} else {
			runtime.GC()
			runtime.GC()
		}
		fams := scrape()
		after := seriesOf(fams, "lazysched_tasks_total")
		assert.Equal(t, !forget, after["root/gone"], "tasks_total of the scope let go (forget %v)", forget)
		assert.True(t, after["root/stays"], "tasks_total of the scope alive (forget %v)", forget)
		assert.False(t, seriesOf(fams, "lazysched_scope_running")["root/gone"], "the gauge of the scope let go (forget %v)", forget)
		runtime.KeepAlive(stays)
		require.NoError(t, s.Shutdown(bounded(t)))
	}
	select {
	case p := <-gone:
		t.Fatalf("forgotten without WithForgetScopes: %q", p)
	default:
	}
}
