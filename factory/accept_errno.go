//go:build !plan9 && !windows

package factory

import "syscall"

// acceptRetryErrnos are the errors of Accept after which the accept loop
// backs off and tries again (see temporaryAcceptError).
var acceptRetryErrnos = []error{
	syscall.EMFILE,       // the process is out of file descriptors
	syscall.ENFILE,       // the system is
	syscall.ENOBUFS,      // out of socket buffers
	syscall.ENOMEM,       // out of memory
	syscall.ECONNABORTED, // the peer gave up before the accept
	syscall.ECONNRESET,   // the same, on some systems
	syscall.EPROTO,       // a protocol error on the pending connection (Linux)
	syscall.EINTR,        // a signal interrupted the call
	syscall.EAGAIN,       // nothing ready after all (EWOULDBLOCK)
}
