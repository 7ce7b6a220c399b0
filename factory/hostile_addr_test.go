//go:build unix

package factory_test

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
)

// addrlessConn is a connection that knows no remote address, as a
// net.Conn may (the interface does not promise one): in-memory and
// wrapped connections, some file-descriptor conns.
type addrlessConn struct{ net.Conn }

func (addrlessConn) RemoteAddr() net.Addr { return nil }

type addrlessListener struct{ net.Listener }

func (l addrlessListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return addrlessConn{c}, nil
}

// A connection without a remote address is served like any other. The
// accept loop named the connection's task after conn.RemoteAddr().String(),
// which panicked on the nil address: the loop ended with a
// *lazytask.PanicError, the connection it had accepted was never handed
// over nor closed (its client hung), and the server accepted nothing more.
func TestHostileServeConnectionWithoutARemoteAddressIsServed(t *testing.T) {
	srv, err := factory.Start(addrlessListener{listen(t)}, echo)
	require.NoError(t, err, "Start")
	for _, line := range []string{"first", "second"} {
		c := dialBounded(t, srv.Addr())
		c.roundTrip(line)
		require.NoError(t, c.conn.Close())
	}
	select {
	case <-srv.Done():
		t.Fatal("the accept loop stopped")
	default:
	}
	assert.NoError(t, srv.Shutdown(bounded(t)), "Shutdown")
}
