package redisfleet

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
)

// waitFor bounds every wait of a test on an event.
const waitFor = 20 * time.Second

// withHook sends every event of the Limit on ch (never blocking the loop
// for long: ch is buffered generously).
func withHook(ch chan<- event) Option {
	return optionFunc(func(c *config) error {
		c.hook = func(e event) { ch <- e }
		return nil
	})
}

// events returns a channel for withHook.
func events() chan event { return make(chan event, 10000) }

// newLimit makes a Limit closed at the test's cleanup.
func newLimit(t testing.TB, c redis.UniversalClient, name string, limit int64, opts ...Option) *Limit {
	t.Helper()
	l, err := New(c, name, limit, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// waitEvent returns the next event of kind (with priority prio, for
// evQueued and evGranted) from ch, skipping the others.
func waitEvent(t *testing.T, ch <-chan event, kind evKind, prio int32) event {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case e := <-ch:
			if e.kind == kind && (kind != evQueued && kind != evGranted || e.prio == prio) {
				return e
			}
		case <-deadline:
			t.Fatalf("no event of kind %d (priority %d) within %v", kind, prio, waitFor)
		}
	}
}

// grant is one answer to a request.
type grant struct {
	tag string
	p   limiter.Permit
	err error
}

// ask makes a request of weight 1 whose answer goes to out, tagged.
func ask(l *Limit, tag string, prio int32, out chan<- grant) (cancel func()) {
	return l.Acquire(limiter.Request{
		Weight:   1,
		Priority: prio,
		Granted:  func(p limiter.Permit, err error) { out <- grant{tag, p, err} },
	})
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatalf("%s: nothing within %v", what, waitFor)
		panic("unreachable")
	}
}

// fleetKeys reads the holders and waiters of name straight from Redis.
func fleetKeys(t *testing.T, c *redis.Client, name string) (holders, waiters int64) {
	t.Helper()
	keys, _ := keysFor(name)
	ctx := context.Background()
	holders, err := c.ZCard(ctx, keys[0]).Result()
	require.NoError(t, err)
	waiters, err = c.ZCard(ctx, keys[2]).Result()
	require.NoError(t, err)
	return holders, waiters
}

func itoa(n int) string { return strconv.Itoa(n) }
