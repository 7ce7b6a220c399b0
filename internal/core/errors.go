package core

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
)

// Sentinel errors. lazytask re-exports each of them under the same name;
// they are declared here, in the lowest package that returns them.
var (
	ErrNotDone       = errors.New("lazytask: task not done")
	ErrNilFunc       = errors.New("lazytask: nil function")
	ErrStarted       = errors.New("lazytask: task already started or ended")
	ErrGoexit        = errors.New("lazytask: function called runtime.Goexit")
	ErrInvalidOption = errors.New("lazysched: invalid option") // lazytask's and scheduler's
	ErrScopeClosed   = errors.New("lazytask: scope closed before the task was started")
	// ErrHandingOver is returned by Start, and by a scheduler's Enqueue,
	// for a task whose scheduler's create or queue hooks are running:
	// the task is being handed to that scheduler.
	ErrHandingOver = errors.New("lazytask: task is being handed to a scheduler (its hooks run)")
	// ErrCallbackGoexit is reported for a done callback, hook or error
	// handler that called runtime.Goexit: the goroutine that ran it exits
	// as asked, and the work after it goes on on another goroutine.
	ErrCallbackGoexit = errors.New("lazytask: callback called runtime.Goexit")
)

// PanicError is the error of a task whose function panicked. It carries the
// panic value and the stack of the goroutine at the time of the panic.
type PanicError struct {
	// Value is the value passed to panic.
	Value any
	// Stack is the formatted stack trace of the panicking goroutine.
	Stack []byte
}

// NewPanicError captures the current goroutine's stack; call it from the
// deferred function that recovered v.
func NewPanicError(v any) *PanicError {
	return &PanicError{Value: v, Stack: debug.Stack()}
}

// Error returns the panic value and the stack.
func (p *PanicError) Error() string {
	return fmt.Sprintf("lazytask: panic: %v\n\n%s", p.Value, p.Stack)
}

// LogValue makes a log line of the panic short: the value and the frame
// that panicked (Stack keeps the whole stack). A value that is or wraps
// the PanicError of another panic (a task that panics with the error of a
// task that panicked) shows without that one's stack.
func (p *PanicError) LogValue() slog.Value {
	return slog.GroupValue(slog.String("panic", p.valueText()), slog.String("at", p.Frame()))
}

// valueText is the panic value as %v prints it, less the stacks of the
// PanicErrors it carries (a bounded walk: a hand-made PanicError may
// carry itself).
func (p *PanicError) valueText() string {
	text := fmt.Sprint(p.Value)
	v := p.Value
	for range 16 {
		err, ok := v.(error)
		var in *PanicError
		if !ok || !errors.As(err, &in) || in == p {
			break
		}
		if len(in.Stack) > 0 {
			text = strings.Replace(text, "\n\n"+string(in.Stack), "", 1)
		}
		v = in.Value
	}
	return text
}

// Frame returns the function and the file:line where the panic happened,
// read from Stack ("" if it cannot be found there).
func (p *PanicError) Frame() string {
	lines := strings.Split(string(p.Stack), "\n")
	for i := 0; i+3 < len(lines); i++ {
		// "panic({...})" and its file line, then the panicking frame.
		if strings.HasPrefix(lines[i], "panic(") && strings.Contains(lines[i+1], "runtime/panic.go") {
			fn := lines[i+2]
			if j := strings.LastIndexByte(fn, '('); j > 0 {
				fn = fn[:j]
			}
			at := strings.TrimSpace(lines[i+3])
			if j := strings.LastIndex(at, " +0x"); j > 0 {
				at = at[:j]
			}
			return fn + " " + at
		}
	}
	return ""
}

// Unwrap returns the panic value if it is an error, so that errors.Is and
// errors.As see through the panic.
func (p *PanicError) Unwrap() error {
	if err, ok := p.Value.(error); ok {
		return err
	}
	return nil
}
