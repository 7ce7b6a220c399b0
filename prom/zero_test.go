package lazyprom_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"

	lazyprom "github.com/lazysched/lazysched/prom"
)

// A nil or zero Collector panics at once, naming the mistake, instead of
// a nil dereference in a scrape or hooks that would panic in every task's
// steps.
func TestNilOrZeroCollectorPanicsNamingIt(t *testing.T) {
	const want = "lazyprom: method called on a nil or zero *Collector (make one with New)"
	for name, c := range map[string]*lazyprom.Collector{"nil": nil, "zero": new(lazyprom.Collector)} {
		assert.PanicsWithValue(t, want, func() { c.Hooks() }, "%s Collector: Hooks", name)
		assert.PanicsWithValue(t, want, func() { c.Observe() }, "%s Collector: Observe", name)
		assert.PanicsWithValue(t, want, func() { c.Describe(make(chan *prometheus.Desc, 16)) }, "%s Collector: Describe", name)
		assert.PanicsWithValue(t, want, func() { c.Collect(make(chan prometheus.Metric, 16)) }, "%s Collector: Collect", name)
	}
}
