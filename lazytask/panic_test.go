package lazytask_test

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

func TestPanicEndsTheTaskFailedWithAPanicError(t *testing.T) {
	tk := lazytask.New(func(ctx context.Context) (int, error) { panic("kaboom") })
	var cbErr error
	cbDone := make(chan struct{})
	tk.OnDone(func(_ int, err error) { cbErr = err; close(cbDone) })
	require.NoError(t, tk.Start())
	_, err := tk.Await(bg)
	var pe *lazytask.PanicError
	require.True(t, errors.As(err, &pe), "errors.As(Await error %v, *PanicError) = false; want true", err)
	assert.Equal(t, "kaboom", pe.Value, "PanicError.Value")
	assert.NotEmpty(t, pe.Stack, "PanicError.Stack")
	assert.Contains(t, string(pe.Stack), "TestPanicEndsTheTaskFailedWithAPanicError", "PanicError.Stack names the panicking function")
	assert.Contains(t, pe.Error(), "kaboom", "PanicError.Error()")
	assert.NoError(t, pe.Unwrap(), "Unwrap() of a non-error panic value")
	assert.Equal(t, lazytask.Failed, tk.State(), "State()")
	<-cbDone
	assert.Same(t, pe, func() *lazytask.PanicError { var p *lazytask.PanicError; errors.As(cbErr, &p); return p }(), "callback error")
}

func TestPanicWithAnErrorValueUnwrapsToIt(t *testing.T) {
	tk := lazytask.New(func(ctx context.Context) (int, error) { panic(errBoom) })
	require.NoError(t, tk.Start())
	_, err := tk.Await(bg)
	if !errors.Is(err, errBoom) {
		t.Errorf("errors.Is(%v, errBoom) = false; want true", err)
	}
	var pe *lazytask.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, errBoom, pe.Unwrap(), "PanicError.Unwrap()")
	assert.Equal(t, errBoom, pe.Value, "PanicError.Value")
}

func TestGoexitEndsTheTaskFailedWithErrGoexit(t *testing.T) {
	tk := lazytask.New(func(ctx context.Context) (int, error) {
		runtime.Goexit()
		return 1, nil
	})
	cbDone := make(chan error, 1)
	tk.OnDone(func(_ int, err error) { cbDone <- err })
	done := tk.Done()
	require.NoError(t, tk.Start())
	<-done // awaiters wake
	if _, err := tk.Await(bg); !errors.Is(err, lazytask.ErrGoexit) {
		t.Errorf("Await(bg) = %v; want ErrGoexit", err)
	}
	assert.Equal(t, lazytask.Failed, tk.State(), "State()")
	if err := <-cbDone; !errors.Is(err, lazytask.ErrGoexit) {
		t.Errorf("callback error = %v; want ErrGoexit", err)
	}
	var pe *lazytask.PanicError
	assert.False(t, errors.As(tk.Err(), &pe), "a Goexit must not read as a panic")
}

func TestPanicWithNilIsAPanicError(t *testing.T) {
	tk := lazytask.New(func(ctx context.Context) (int, error) { panic(nil) })
	require.NoError(t, tk.Start())
	_, err := tk.Await(bg)
	var pe *lazytask.PanicError
	require.ErrorAs(t, err, &pe, "Await(bg) error")
	var pn *runtime.PanicNilError
	assert.ErrorAs(t, err, &pn, "panic(nil) unwraps to *runtime.PanicNilError")
	assert.NotErrorIs(t, err, lazytask.ErrGoexit, "panic(nil) is not a Goexit")
}
