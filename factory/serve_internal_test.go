package factory

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingListener counts the calls of Accept.
type countingListener struct {
	net.Listener
	calls atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	l.calls.Add(1)
	return l.Listener.Accept()
}

func TestAtTheCapTheAcceptLoopPausesUntilASlotFrees(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "net.Listen")
	ln := &countingListener{Listener: inner}
	paused := make(chan struct{}, 4)
	srv, err := Start(ln, func(_ context.Context, conn net.Conn) error {
		_, err := io.Copy(conn, conn) // echo until the client closes
		return err
	}, WithLimit(1), withPauseHook(func() { paused <- struct{}{} }))
	require.NoError(t, err, "Start")

	c1, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err, "Dial(c1)")
	defer c1.Close()
	roundTrip(t, c1, "one")
	select {
	case <-paused:
	case <-ctx.Done():
		t.Fatal("the accept loop never paused at the cap")
	}
	c2, err := net.Dial("tcp", ln.Addr().String()) // waits in the backlog
	require.NoError(t, err, "Dial(c2)")
	defer c2.Close()
	_, err = io.WriteString(c2, "two\n")
	require.NoError(t, err, "write to c2")
	assert.Equal(t, int32(1), ln.calls.Load(), "Accept calls while paused")

	require.NoError(t, c1.Close(), "c1 Close") // frees the slot
	got, err := bufio.NewReader(c2).ReadString('\n')
	require.NoError(t, err, "c2's echo")
	assert.Equal(t, "two\n", got, "c2's echo")
	assert.Equal(t, int32(2), ln.calls.Load(), "Accept calls once the slot freed")
	require.NoError(t, c2.Close(), "c2 Close")
	assert.NoError(t, srv.Shutdown(ctx), "Shutdown")
}

func roundTrip(t *testing.T, c net.Conn, line string) {
	t.Helper()
	_, err := io.WriteString(c, line+"\n")
	require.NoError(t, err, "write %q", line)
	buf := make([]byte, len(line)+1)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err, "read the echo of %q", line)
	require.Equal(t, line+"\n", string(buf), "echo")
}
