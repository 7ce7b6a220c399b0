package redisfleet

import (
	"runtime"
	"strconv"
	"strings"
)

// goid returns the id of the calling goroutine, as the first line of its
// stack trace gives it ("goroutine 18 [running]:"); 0 if it cannot be read.
//
// Close needs it, and nothing else does: Close waits for l's goroutine to
// stop, which it cannot do when it is called from inside a callback that
// very goroutine runs (a Granted or Lost that closes the Limit, say on
// ErrClosed). Its price, a short stack trace, is paid once per Limit made
// and once per Close.
func goid() uint64 {
	var buf [64]byte
	s := string(buf[:runtime.Stack(buf[:], false)])
	s, ok := strings.CutPrefix(s, "goroutine ")
	if !ok {
		return 0
	}
	id, _, _ := strings.Cut(s, " ")
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return 0
	}
	return n
}
