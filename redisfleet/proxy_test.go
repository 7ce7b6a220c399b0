package redisfleet

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// cutProxy is a TCP proxy in front of a redis-server. Armed with a
// pattern, it forwards the next request that contains it, lets Redis run
// it, and cuts that connection instead of forwarding the reply; then,
// while down, it closes every new connection at once (so that a client's
// retries fail too), until up is called.
type cutProxy struct {
	t      testing.TB
	ln     net.Listener
	target string
	armed  atomic.Pointer[[]byte]
	down   atomic.Bool
	cut    chan struct{} // a reply was dropped; capacity 1
	// gate, while stalled, is a channel that up closes: forwarding
	// waits on it, in both directions.
	gateMu sync.Mutex
	gate   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func newCutProxy(t testing.TB, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{t: t, ln: ln, target: target, cut: make(chan struct{}, 1)}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

// arm makes the next request containing pat lose its reply, and the proxy
// go down.
func (p *cutProxy) arm(pat string) { b := []byte(pat); p.armed.Store(&b) }

func (p *cutProxy) up() { p.down.Store(false) }

// stall stops forwarding (nothing is lost: it waits) until resume.
func (p *cutProxy) stall() {
	p.gateMu.Lock()
	defer p.gateMu.Unlock()
	if p.gate == nil {
		p.gate = make(chan struct{})
	}
}

func (p *cutProxy) resume() {
	p.gateMu.Lock()
	defer p.gateMu.Unlock()
	if p.gate != nil {
		close(p.gate)
		p.gate = nil
	}
}

func (p *cutProxy) wait() {
	p.gateMu.Lock()
	g := p.gate
	p.gateMu.Unlock()
	if g != nil {
		<-g
	}
}

func (p *cutProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false // closed
	}
	p.conns = append(p.conns, c)
	return true
}

func (p *cutProxy) close() {
	p.resume()
	_ = p.ln.Close()
	p.mu.Lock()
	cs := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
	}
	p.wg.Wait()
}

func (p *cutProxy) accept() {
	defer p.wg.Done()
	p.mu.Lock()
	p.conns = []net.Conn{}
	p.mu.Unlock()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			_ = c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		if !p.track(c) || !p.track(s) {
			_ = c.Close()
			_ = s.Close()
			return
		}
		var drop atomic.Bool
		p.wg.Add(2)
		go func() { // client to server
			defer p.wg.Done()
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if pat := p.armed.Load(); pat != nil && bytes.Contains(buf[:n], *pat) && p.armed.CompareAndSwap(pat, nil) {
						drop.Store(true)
					}
					p.wait()
					if _, werr := s.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			_ = s.Close()
		}()
		go func() { // server to client
			defer p.wg.Done()
			buf := make([]byte, 64<<10)
			for {
				n, err := s.Read(buf)
				if n > 0 && drop.Load() {
					// Redis ran it; its reply is lost with the connection.
					p.down.Store(true)
					_ = c.Close()
					_ = s.Close()
					select {
					case p.cut <- struct{}{}:
					default:
					}
					return
				}
				if n > 0 {
					p.wait()
					if _, werr := c.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			_ = c.Close()
		}()
	}
}

var _ = io.EOF
