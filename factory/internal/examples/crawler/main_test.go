package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lazysched/lazysched/scheduler"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRunFindsEveryPageWithinBothCaps(t *testing.T) {
	const overall, perHost = 4, 2
	web := newWeb(3, 8, time.Millisecond, nil)
	defer web.Close()
	s, err := scheduler.New(scheduler.Unlimited())
	require.NoError(t, err, "scheduler.New")
	defer s.Shutdown(context.Background())

	found, err := run(context.Background(), s, web.Start(), overall, perHost, web.Client())
	require.NoError(t, err, "run")
	assert.Len(t, found, web.total(), "pages found")
	for i := range web.hosts {
		h := &web.hosts[i]
		assert.Equal(t, int32(8), h.served.Load(), "requests served by host %d: each page once", i)
		assert.LessOrEqual(t, h.peak.Load(), int32(perHost), "requests in flight on host %d at once", i)
	}
	assert.LessOrEqual(t, web.peak.Load(), int32(overall), "requests in flight at once")
	assert.Empty(t, s.Snapshot().Children, "scopes left under the root after the crawl")
}

func TestRunStopsWhenCtxEnds(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("Ctrl-C")
	// No page ever answers; the first request to arrive stops the crawl.
	web := newWeb(2, 50, time.Hour, func() { cancel(stop) })
	defer web.Close()
	s, err := scheduler.New()
	require.NoError(t, err, "scheduler.New")
	defer s.Shutdown(context.Background())

	found, err := run(ctx, s, web.Start(), 4, 2, web.Client())
	assert.ErrorIs(t, err, stop, "run's error")
	assert.Equal(t, []string{web.Start()}, found, "pages found: the first never answered")
}
