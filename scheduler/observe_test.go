package scheduler_test

import (
	"bytes"
	"context"
	"log/slog"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func TestPprofLabelsNameTheTaskAndItsScope(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(2), scheduler.WithPprofLabels())
	crawl := scChild(t, s.Root(), scheduler.WithName("crawl"))
	h, err := scheduler.Submit(crawl, func(ctx context.Context) ([2]string, error) {
		task, _ := pprof.Label(ctx, "lazysched.task")
		scope, _ := pprof.Label(ctx, "lazysched.scope")
		return [2]string{task, scope}, nil
	}, lazytask.WithName("fetch example.com"))
	require.NoError(t, err)
	got, err := h.Await(bounded(t))
	require.NoError(t, err)
	assert.Equal(t, [2]string{"fetch example.com", "crawl"}, got, "pprof labels read back inside the task")

	plain := scSched(t, scheduler.WithLimit(1))
	h2, err := scheduler.Submit(plain, func(ctx context.Context) (bool, error) {
		_, ok := pprof.Label(ctx, "lazysched.task")
		return ok, nil
	})
	require.NoError(t, err)
	labeled, err := h2.Await(bounded(t))
	require.NoError(t, err)
	assert.False(t, labeled, "a task of a scheduler without WithPprofLabels has no labels")
}

// The default supervisor's line for a panicking task is one readable line:
// the task as a group, and the panic as its value and the frame that
// panicked, not a 1.5 KB stack.
func TestSupervisorLogsAPanicOnOneShortLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	s := scSched(t, scheduler.WithLimit(1), scheduler.WithLogger(log))
	crawl := scChild(t, s.Root(), scheduler.WithName("crawl"))
	h, err := scheduler.Go(crawl, func(context.Context) error { panic("bad page") },
		lazytask.WithName("fetch"), lazytask.WithLabel("host", "example.com"), lazytask.WithPriority(3))
	require.NoError(t, err)
	_ = h.Wait(bounded(t))
	require.NoError(t, s.Shutdown(bounded(t))) // the handler runs after the end (I11): Shutdown waits for it
	line := strings.TrimSpace(buf.String())
	assert.NotContains(t, line, "\n", "the log line")
	assert.Contains(t, line, `task.name=fetch task.scope=crawl task.state=failed task.priority=3 task.labels.host=example.com`, "the task's attributes")
	assert.Contains(t, line, `err.panic="bad page"`, "the panic's value")
	assert.Regexp(t, `err.at="[^"]*TestSupervisorLogsAPanicOnOneShortLine[^"]* [^"]*observe_test.go:\d+"`, line, "the frame that panicked")
	assert.Less(t, len(line), 600, "the line's length")
}
