package glue

import (
	"runtime"
	"strconv"
	"strings"
)

// Goid returns the id of the calling goroutine, as the first line of its
// stack trace gives it ("goroutine 18 [running]:"); 0 if it cannot be read.
// errgroup reads it once per function run, to tell which of a group's
// functions a wait made with the group's context comes from.
func Goid() uint64 {
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
