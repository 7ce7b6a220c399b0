package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func TestShieldWithANilFuncReturnsErrNilFunc(t *testing.T) {
	var err error
	require.NotPanics(t, func() { err = scheduler.Shield(context.Background(), time.Second, nil) }, "Shield(ctx, 1s, nil)")
	assert.ErrorIs(t, err, lazytask.ErrNilFunc, "Shield(ctx, 1s, nil)")
}

func TestShieldWithANilContextRunsFnAsUnderBackground(t *testing.T) {
	var nilCtx context.Context // a variable, so that vet's nil-context check stays quiet
	for _, tc := range []struct {
		name         string
		timeout      time.Duration
		wantDeadline bool
	}{
		{"no timeout", 0, false},
		{"with a timeout", time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran := false
			var err error
			require.NotPanics(t, func() {
				err = scheduler.Shield(nilCtx, tc.timeout, func(sctx context.Context) error {
					ran = true
					require.NotNil(t, sctx, "fn's context")
					assert.NoError(t, sctx.Err(), "fn's context is live")
					_, has := sctx.Deadline()
					assert.Equal(t, tc.wantDeadline, has, "fn's context has a deadline")
					return nil
				})
			}, "Shield(nil, %v, fn)", tc.timeout)
			assert.NoError(t, err, "Shield(nil, %v, fn)", tc.timeout)
			assert.True(t, ran, "Shield(nil, %v, fn) ran fn", tc.timeout)
		})
	}
}
