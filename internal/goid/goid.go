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

// Creator returns the id of the goroutine that started the calling one, as
// its stack trace gives it ("created by f in goroutine 7"); 0 if it has
// none (the main goroutine) or it cannot be read. It costs a whole stack
// trace of the caller: keep it off hot paths.
func Creator() uint64 {
	trace, ok := traces(false, 4096, 1<<20)
	if !ok {
		return 0 // a trace this long is cut short: its creator is lost
	}
	return creatorIn(trace)
}

// traces returns runtime.Stack(all) whole, in a buffer that starts at size
// bytes and doubles up to max; false if it does not fit.
func traces(all bool, size, max int) (string, bool) {
	buf := make([]byte, size)
	for {
		n := runtime.Stack(buf, all)
		if n < len(buf) {
			return string(buf[:n]), true
		}
		if len(buf) >= max {
			return "", false
		}
		buf = make([]byte, 2*len(buf))
	}
}

// creatorIn returns the creator named by the first "created by" line of
// one goroutine's trace: with GODEBUG=tracebackancestors, the sections of
// its ancestors follow, whose own lines name no goroutine.
func creatorIn(trace string) uint64 {
	i := strings.Index(trace, "\ncreated by ")
	if i < 0 {
		return 0
	}
	line, _, _ := strings.Cut(trace[i+1:], "\n")
	_, id, ok := strings.Cut(line, " in goroutine ")
	if !ok {
		return 0
	}
	n, err := strconv.ParseUint(strings.TrimSpace(id), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// Creators returns, for every live goroutine, the id of its creator
// (which may have exited since; 0 for none), or 0 for a goroutine whose
// trace holds stop (if not empty): a walk up the ancestry ends there. A
// goroutine that is not a key has exited. It reads the traces of all
// goroutines, which stops the world for a moment that grows with their
// number: for the rare path that must walk a goroutine's ancestry, never a
// hot one. Nil if the traces cannot be read whole (over 64 MiB).
func Creators(stop string) map[uint64]uint64 {
	all, ok := traces(true, 1<<16, 64<<20)
	if !ok {
		return nil
	}
	m := make(map[uint64]uint64)
	for _, g := range strings.Split(all, "\n\ngoroutine ") {
		g = strings.TrimPrefix(g, "goroutine ")
		id, _, _ := strings.Cut(g, " ")
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			continue
		}
		own := g // its own frames: with tracebackancestors, its ancestors' follow
		if i := strings.Index(g, "\ncreated by "); i >= 0 {
			own = g[:i]
		}
		if stop != "" && strings.Contains(own, stop) {
			m[n] = 0
			continue
		}
		m[n] = creatorIn(g)
	}
	return m
}
