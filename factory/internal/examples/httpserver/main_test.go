package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err, "GET %s", url)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "read the body of %s", url)
	return resp.StatusCode, string(b)
}

func client(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestRunServesTheRoutesAsTasks(t *testing.T) {
	s, err := scheduler.New()
	require.NoError(t, err, "scheduler.New")
	defer s.Shutdown(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "net.Listen")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, s, ln, 4, 10*time.Second, routes()) }()

	c := client(t)
	base := "http://" + ln.Addr().String()
	status, body := get(t, c, base+"/hello")
	assert.Equal(t, http.StatusOK, status, "GET /hello")
	assert.Equal(t, "hello from task \"GET /hello\"\n", body, "GET /hello")
	status, body = get(t, c, base+"/work?ms=0")
	assert.Equal(t, http.StatusOK, status, "GET /work")
	assert.Equal(t, "worked 0 ms\n", body, "GET /work")
	status, _ = get(t, c, base+"/work?ms=x")
	assert.Equal(t, http.StatusBadRequest, status, "GET /work?ms=x")
	cancel()
	assert.NoError(t, <-done, "run")
}

// Ctrl-C while a request is in flight: the server stops accepting, the
// request finishes within the grace period, and the exit status says the
// program drained.
func TestServeDrainsOnCtrlC(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		fmt.Fprint(w, "finished after Ctrl-C")
	})
	addrs := make(chan net.Addr, 1)
	status := make(chan int, 1)
	interrupted := make(chan struct{})
	go func() {
		status <- serve("127.0.0.1:0", 4, 10*time.Second, h, func(a net.Addr) { addrs <- a },
			scheduler.WithHooks(scheduler.Hooks{OnDone: func(_ context.Context, sc *scheduler.Scope, h lazytask.Handle) {
				if h.Options().Name == "http/accept" {
					close(interrupted) // http.Server.Serve returned: Shutdown began
				}
			}}))
	}()
	addr := <-addrs // Main is catching SIGINT by now
	c := client(t)
	resp := make(chan string, 1)
	go func() {
		r, err := c.Get("http://" + addr.String() + "/slow")
		if err != nil {
			resp <- err.Error()
			return
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		resp <- string(b)
	}()
	<-started
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGINT), "kill -INT")
	<-interrupted
	close(release)
	assert.Equal(t, "finished after Ctrl-C", <-resp, "the request in flight")
	assert.Equal(t, scheduler.ExitInterrupted, <-status, "exit status")
}
