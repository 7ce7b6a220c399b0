package factory

import "syscall"

// acceptRetryErrnos are the errors of Accept after which the accept loop
// backs off and tries again (see temporaryAcceptError). The syscall
// package names only some of the Winsock codes.
var acceptRetryErrnos = []error{
	syscall.Errno(10024), // WSAEMFILE: out of sockets
	syscall.Errno(10055), // WSAENOBUFS: out of buffers
	syscall.WSAECONNABORTED,
	syscall.WSAECONNRESET,
	syscall.Errno(10004), // WSAEINTR
	syscall.Errno(10035), // WSAEWOULDBLOCK
}
