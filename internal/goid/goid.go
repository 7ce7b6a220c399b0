// Package goid reads the id of the calling goroutine, for the few places
// that must tell whether they run on a goroutine they know: errgroup's
// In groups (which of the group's functions a wait comes from) and
// redisfleet's Close (called from the Limit's own goroutine or not).
package goid

import (
	"runtime"
	"strconv"
	"strings"
)

// ID returns the id of the calling goroutine, as the first line of its
// stack trace gives it ("goroutine 18 [running]:"); 0 if it cannot be
// read. It costs a short stack trace: read it once per use, not per task.
func ID() uint64 {
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
