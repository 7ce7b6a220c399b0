package scheduler_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A fail-fast child scope whose task panicked reaches its supervisor
// parent as a ScopeError: the default handler's line for it is one short
// readable line, as for the panicking task itself
// (TestSupervisorLogsAPanicOnOneShortLine), not the 1.8 KB stack; the
// stack stays in the error.
func TestChildScopePanicReachesTheParentsLogOnOneShortLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var got error
	s := scSched(t, scheduler.WithLimit(1), scheduler.WithLogger(log))
	crawl := scChild(t, s.Root(), scheduler.WithName("crawl"))
	host := scChild(t, crawl, scheduler.WithName("example.com"), scheduler.FailFast())
	h, err := scheduler.Go(host, func(context.Context) error { panic("bad page") }, lazytask.WithName("fetch"))
	require.NoError(t, err)
	_ = h.Wait(bounded(t))
	got = host.Wait(bounded(t))
	require.NoError(t, s.Shutdown(bounded(t))) // the handler runs after the end (I11)
	line := strings.TrimSpace(buf.String())
	require.NotEmpty(t, line, "the supervisor's report")
	assert.NotContains(t, line, "\n", "one line")
	assert.NotContains(t, line, "goroutine ", "no stack in the line")
	assert.Contains(t, line, `panic="bad page"`, "the panic's value")
	assert.Regexp(t, `at="[^"]*TestChildScopePanic[^"]* [^"]*scopeerror_log_test.go:\d+"`, line, "the frame that panicked")
	assert.Less(t, len(line), 600, "the line's length")
	_, ok := errors.AsType[*lazytask.PanicError](got)
	assert.True(t, ok, "the stack is still in the error")
}
