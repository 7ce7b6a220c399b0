package lazytask_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

func hwInnerPanics(ctx context.Context) (int, error) { panic("hW: inner") }

// hwEndOf runs fn on its own goroutine and returns its PanicError.
func hwEndOf(t *testing.T, fn func(context.Context) (int, error)) *lazytask.PanicError {
	t.Helper()
	task := lazytask.New(fn)
	require.NoError(t, task.Start())
	<-task.Done()
	var pe *lazytask.PanicError
	require.ErrorAs(t, task.Err(), &pe)
	return pe
}

// TestHostileHWPanicLogValueNested: a task that panics with the error of
// another task that panicked (the common "if err != nil { panic(err) }"),
// bare or wrapped, logs one short line: LogValue's "panic" holds the inner
// value, not the inner stack, which stays in the inner PanicError's Stack.
// errors.Is and errors.As still reach the inner PanicError and its value.
func TestHostileHWPanicLogValueNested(t *testing.T) {
	sentinel := errors.New("hW: sentinel")
	inner := hwEndOf(t, func(ctx context.Context) (int, error) { panic(sentinel) })
	for name, v := range map[string]any{
		"bare":    inner,
		"wrapped": fmt.Errorf("hW: while doing X: %w", inner),
		"twice":   fmt.Errorf("hW: outer: %w", hwEndOf(t, func(ctx context.Context) (int, error) { panic(inner) })),
	} {
		t.Run(name, func(t *testing.T) {
			outer := hwEndOf(t, func(ctx context.Context) (int, error) { panic(v) })
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Error("x", "err", outer)
			line := buf.String()
			assert.NotContains(t, line, "goroutine ", "LogValue carries a stack: %s", line)
			assert.NotContains(t, line, `\n`, "LogValue is not one line: %s", line)
			assert.Contains(t, line, "hW: sentinel", "the inner panic value is lost: %s", line)
			assert.Contains(t, line, "at=", line)
			// Error keeps everything, and the chain is intact.
			assert.Contains(t, outer.Error(), string(inner.Stack))
			assert.ErrorIs(t, outer, sentinel)
			var got *lazytask.PanicError
			require.ErrorAs(t, outer, &got)
			assert.Same(t, outer, got)
		})
	}
}

type hwLogValuer struct{ depth int }

func (v hwLogValuer) LogValue() slog.Value {
	// Resolves to itself, deeper and deeper: slog stops after a bound.
	return slog.AnyValue(hwLogValuer{v.depth + 1})
}

type hwPanickyStringer struct{}

func (hwPanickyStringer) String() string { panic("hW: String panics") }

// TestHostileHWPanicLogValueOdd: odd panic values log one line each, and
// the frame that panicked.
func TestHostileHWPanicLogValueOdd(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	for name, v := range map[string]any{
		"error":           errors.New("hW: an error"),
		"stringer-panics": hwPanickyStringer{},
		"logvaluer":       hwLogValuer{},
		"multiline":       "hW: line1\nline2",
		"huge":            huge,
		"nil-ptr":         (*hwPanickyStringer)(nil),
	} {
		t.Run(name, func(t *testing.T) {
			pe := hwEndOf(t, func(ctx context.Context) (int, error) { panic(v) })
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Error("x", "err", pe)
			line := buf.String()
			assert.Equal(t, 1, strings.Count(line, "\n"), "one line")
			assert.NotContains(t, line, "goroutine ")
			assert.Contains(t, line, "hostile_hw_log_test.go", "the frame that panicked")
			assert.NotEmpty(t, pe.Frame())
			assert.Contains(t, pe.Error(), "goroutine ", "Error keeps the stack")
		})
	}
	pe := hwEndOf(t, func(ctx context.Context) (int, error) { panic(nil) })
	var pn interface{ RuntimeError() }
	assert.ErrorAs(t, pe, &pn, "panic(nil) unwraps to *runtime.PanicNilError")
	assert.Contains(t, pe.Frame(), "TestHostileHWPanicLogValueOdd")
}
