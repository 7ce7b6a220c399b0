package redisfleet

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// redisServer is a real redis-server on 127.0.0.1, started by a test and
// killed at its cleanup.
type redisServer struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// freePort returns a port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// needRedis skips the test when redis-server is not installed.
func needRedis(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("REDISFLEET_REQUIRE_REDIS") != "" {
			t.Fatal("redis-server is not on PATH, and REDISFLEET_REQUIRE_REDIS says these tests must run")
		}
		t.Skip("redis-server is not on PATH: install it (apt-get install redis-server) to run the redisfleet tests")
	}
}

// startRedis starts a redis-server on a free port.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	return startRedisOn(t, freePort(t))
}

// startRedisOn starts a redis-server on port and returns once it accepts
// connections (it says so on its log, then answers PING).
func startRedisOn(t testing.TB, port int, extra ...string) *redisServer {
	t.Helper()
	needRedis(t)
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--logfile", ""}, extra...)
	cmd := exec.Command("redis-server", args...)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &redisServer{t: t, port: port, cmd: cmd}
	t.Cleanup(s.kill)
	ready := make(chan struct{})
	go func() { // reads the log to its end, so the server never blocks on it
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("redis-server on port %d: not ready after 10s", port)
	}
	c := s.client()
	require.NoError(t, c.Ping(context.Background()).Err(), "PING redis-server on port %d", port)
	return s
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// client returns a new client of s, closed at the test's cleanup.
func (s *redisServer) client() *redis.Client {
	return newClient(s.t, s.addr())
}

func newClient(t testing.TB, addr string) *redis.Client {
	return newClientOpts(t, &redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: 5 * time.Second})
}

// deadClient returns a client of addr, where nothing listens yet, that
// gives up on a dial at once rather than retrying.
func deadClient(t testing.TB, addr string) *redis.Client {
	return newClientOpts(t, &redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1, DialerRetries: 1})
}

func newClientOpts(t testing.TB, o *redis.Options) *redis.Client {
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// kill ends the server (a stopped one too) and waits for it.
func (s *redisServer) kill() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

func (s *redisServer) signal(sig syscall.Signal) {
	require.NoError(s.t, s.cmd.Process.Signal(sig))
}
