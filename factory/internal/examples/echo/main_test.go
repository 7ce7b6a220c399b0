package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"syscall"
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

type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr net.Addr) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr.String())
	require.NoError(t, err, "net.Dial")
	t.Cleanup(func() { _ = conn.Close() })
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (c *client) roundTrip(line string) {
	c.t.Helper()
	_, err := io.WriteString(c.conn, line+"\n")
	require.NoError(c.t, err, "write")
	got, err := c.r.ReadString('\n')
	require.NoError(c.t, err, "read the echo")
	require.Equal(c.t, line+"\n", got, "echo")
}

func TestRunEchoesAndDrainsWhenCtxEnds(t *testing.T) {
	s, err := scheduler.New()
	require.NoError(t, err, "scheduler.New")
	defer s.Shutdown(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "net.Listen")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, s, ln, 4, 10*time.Second) }()

	c := dial(t, ln.Addr())
	c.roundTrip("hello")
	cancel()
	c.roundTrip("still open while draining")
	require.NoError(t, c.conn.Close(), "client Close")
	assert.NoError(t, <-done, "run")
}

// The real thing: Ctrl-C (SIGINT to this process, which scheduler.Main
// catches) drains the open connection, and the exit status says so.
func TestServeDrainsOnCtrlC(t *testing.T) {
	addrs := make(chan net.Addr, 1)
	status := make(chan int, 1)
	go func() { status <- serve("127.0.0.1:0", 4, 10*time.Second, func(a net.Addr) { addrs <- a }) }()
	c := dial(t, <-addrs) // Main is catching SIGINT by now
	c.roundTrip("before Ctrl-C")
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGINT), "kill -INT")
	c.roundTrip("after Ctrl-C, draining")
	require.NoError(t, c.conn.Close(), "client Close")
	assert.Equal(t, scheduler.ExitInterrupted, <-status, "exit status")
}
