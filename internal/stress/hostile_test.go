package stress

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The driver tells its own goroutines from the others by their ids, so
// that hostile user code never calls runtime.Goexit on one of them.
func TestDriverGoroutinesAreToldApart(t *testing.T) {
	var d driverG
	leave := d.enter()
	assert.True(t, d.onDriver(), "onDriver() on the goroutine that entered")
	other := make(chan bool)
	go func() { other <- d.onDriver() }()
	assert.False(t, <-other, "onDriver() on another goroutine")
	leave()
	assert.False(t, d.onDriver(), "onDriver() after leave()")
	ids := make(chan uint64)
	go func() { ids <- goid() }()
	mine, theirs := goid(), <-ids
	require.NotZero(t, mine, "goid()")
	assert.NotEqual(t, mine, theirs, "goid() of two goroutines")
}

// throwaway reports whether its function returned or its goroutine was
// ended by runtime.Goexit, and the caller goes on either way.
func TestThrowawayReportsAGoexit(t *testing.T) {
	r := &round{}
	ran := false
	assert.True(t, r.throwaway(func() { ran = true }), "throwaway(returns)")
	assert.True(t, ran, "the function ran")
	assert.False(t, r.throwaway(func() { goexitNow() }), "throwaway(calls runtime.Goexit)")
}

func goexitNow() { runtime.Goexit() }
