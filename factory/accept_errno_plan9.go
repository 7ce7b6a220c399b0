package factory

import "syscall"

// acceptRetryErrnos are the errors of Accept after which the accept loop
// backs off and tries again (see temporaryAcceptError).
var acceptRetryErrnos = []error{syscall.EMFILE, syscall.EINTR}
