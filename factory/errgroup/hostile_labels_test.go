package errgroup_test

import (
	"bytes"
	"context"
	"os"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/errgroup"
)

// x/sync's Go starts a goroutine, which inherits the pprof labels of the
// goroutine that called Go (a request handler's pprof.Do): CPU and
// goroutine profiles attribute the function's work to the caller's labels.
func TestHostileLabelsFunctionsInheritTheCallersPprofLabels(t *testing.T) {
	if os.Getenv("LAZYSCHED_KNOWN") != "1" {
		t.Skip("known: functions run on the scheduler's goroutines, which do not carry the caller's pprof labels (documented in the package doc)")
	}
	var g errgroup.Group
	in := make(chan struct{})
	out := make(chan struct{})
	pprof.Do(context.Background(), pprof.Labels("hostile_labels", "caller"), func(context.Context) {
		g.Go(func() error { close(in); <-out; return nil })
	})
	<-in
	var buf bytes.Buffer
	require.NoError(t, pprof.Lookup("goroutine").WriteTo(&buf, 1))
	close(out)
	require.NoError(t, g.Wait())
	assert.True(t, strings.Contains(buf.String(), `"hostile_labels":"caller"`),
		"no goroutine of the group's function carries the caller's labels")
}
