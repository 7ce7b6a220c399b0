package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// errNoRedisServer is what the demo says, on one line, when it cannot run.
var errNoRedisServer = errors.New("redis-server is not on PATH: install it (apt-get install redis-server) to run this demo")

// redisServer is the demo's own redis-server, on 127.0.0.1, saving nothing.
type redisServer struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{} // closed when its log has been read to the end
}

// startRedis starts a redis-server on a free port of 127.0.0.1 and returns
// once it answers PING.
func startRedis(ctx context.Context) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errNoRedisServer
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--logfile", "")
	log, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	s := &redisServer{cmd: cmd, addr: "127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{})}
	ready := make(chan struct{})
	var tail []string // its log until it is ready, to say why it failed
	go func() {       // reads the log to its end, so the server never blocks on it
		defer close(s.done)
		sc := bufio.NewScanner(log)
		isReady := false
		for sc.Scan() {
			if !isReady {
				tail = append(tail, sc.Text())
				if strings.Contains(sc.Text(), "Ready to accept connections") {
					isReady = true
					close(ready)
				}
			}
		}
	}()
	select {
	case <-ready:
	case <-s.done:
		s.stop()
		return nil, fmt.Errorf("redis-server on %s ended before it was ready:\n%s", s.addr, strings.Join(tail, "\n"))
	case <-time.After(10 * time.Second):
		s.stop()
		return nil, fmt.Errorf("redis-server on %s: not ready after 10s", s.addr)
	case <-ctx.Done():
		s.stop()
		return nil, context.Cause(ctx)
	}
	c := redis.NewClient(&redis.Options{Addr: s.addr})
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		s.stop()
		return nil, fmt.Errorf("PING redis-server on %s: %w", s.addr, err)
	}
	return s, nil
}

// freePort returns a port of 127.0.0.1 that nothing listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	return port, ln.Close()
}

// stop ends the server (SIGTERM; SIGKILL if it has not ended within 5s)
// and waits for it.
func (s *redisServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
	}
	_ = s.cmd.Wait()
}
