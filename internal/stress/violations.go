package stress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lazysched/lazysched/scheduler"
)

// The names of the known bugs' symptoms (tally.knownBug): each has a
// skipped reproduction in bugs_test.go or scheduler/completion_test.go.
const (
	bugBatchLost     = "Goexit-on-recovery-goroutine loses the batch"
	bugNewTaskGoexit = "NewTask-OnCreate-Goexit leaves the task Lazy"
	bugFlushDeferred = "Goexit-in-flushDeferred"
	bugCtxErrChanges = "task ctx.Err changes when its timeout fires with a cancel"
)

// maxSamples bounds the messages kept per run; every violation is counted.
const maxSamples = 40

// tally counts violations by invariant, keeps the first messages, and counts
// the symptoms of known bugs apart. The zero value is ready to use.
type tally struct {
	n       atomic.Int64
	mu      sync.Mutex
	by      map[string]int
	samples []string
	known   map[string]int
	strict  bool
}

// add records a violation of inv (an invariant name such as "I3", or a
// check name such as "stats").
func (t *tally) add(inv, format string, args ...any) {
	t.n.Add(1)
	msg := inv + ": " + fmt.Sprintf(format, args...)
	t.mu.Lock()
	if t.by == nil {
		t.by = make(map[string]int)
	}
	t.by[inv]++
	if len(t.samples) < maxSamples {
		t.samples = append(t.samples, msg)
	}
	t.mu.Unlock()
}

// knownBug records a symptom of a bug already filed under name; in strict
// mode it is a violation like any other.
func (t *tally) knownBug(name, format string, args ...any) {
	if t.strict {
		t.add("known:"+name, format, args...)
		return
	}
	t.mu.Lock()
	if t.known == nil {
		t.known = make(map[string]int)
	}
	t.known[name]++
	t.mu.Unlock()
}

func (t *tally) count() int64 { return t.n.Load() }

// merge adds o's counts and samples to t.
func (t *tally) merge(o *tally, prefix string) {
	o.mu.Lock()
	by, samples, known := maps.Clone(o.by), slices.Clone(o.samples), maps.Clone(o.known)
	o.mu.Unlock()
	t.n.Add(o.n.Load())
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.by == nil {
		t.by = make(map[string]int)
	}
	if t.known == nil {
		t.known = make(map[string]int)
	}
	for k, v := range by {
		t.by[k] += v
	}
	for k, v := range known {
		t.known[k] += v
	}
	for _, s := range samples {
		if len(t.samples) < maxSamples {
			t.samples = append(t.samples, prefix+s)
		}
	}
}

// logCounter is a slog.Handler that counts what the scheduler logs: task
// errors reported by supervisors without a handler, child scope failures,
// panics in hooks and in done callbacks. Anything else is unexpected.
type logCounter struct {
	taskErrs, scopeErrs, hookPanics, callbackPanics, handlerPanics, other atomic.Int64
	hookGoexits, callbackGoexits                                          atomic.Int64
	// goexitNames counts the callback Goexits logged per task name (the
	// driver names the tasks with hostile callbacks).
	goexitNames sync.Map // string → *atomic.Int32
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCounter) WithGroup(string) slog.Handler            { return l }

func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	switch {
	case r.Message == "lazysched: task failed":
		// The driver names no task: a record whose "task" is a name
		// reports a failed child scope (named after it), with its
		// *ScopeError. (The error alone does not tell: a task may fail
		// with a *ScopeError that reached it as a cancellation cause.)
		var se *scheduler.ScopeError
		named, isScopeErr := false, false
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "task":
				// The hostile tasks are named by the driver (hostile.go).
				name := a.Value.String()
				named = name != "" && !strings.HasPrefix(name, hostileName)
			case "err":
				err, ok := a.Value.Any().(error)
				isScopeErr = ok && errors.As(err, &se)
			}
			return true
		})
		if named && isScopeErr {
			l.scopeErrs.Add(1)
		} else {
			l.taskErrs.Add(1)
		}
	case strings.Contains(r.Message, "hook called runtime.Goexit"):
		l.hookGoexits.Add(1)
	case strings.Contains(r.Message, "done callback called runtime.Goexit"):
		l.callbackGoexits.Add(1)
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "task" {
				v, _ := l.goexitNames.LoadOrStore(a.Value.String(), new(atomic.Int32))
				v.(*atomic.Int32).Add(1)
			}
			return true
		})
	case strings.Contains(r.Message, "hook panicked"):
		l.hookPanics.Add(1)
	case strings.Contains(r.Message, "done callback panicked"):
		l.callbackPanics.Add(1)
	case strings.Contains(r.Message, "error handler panicked"):
		l.handlerPanics.Add(1)
	default:
		l.other.Add(1)
	}
	return nil
}
