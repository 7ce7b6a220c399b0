package lazyprom

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lazysched/lazysched/scheduler"
)

// scopeInfo is what the hooks need of a scope, looked up once: its path
// and its series.
type scopeInfo struct {
	wp        weak.Pointer[scheduler.Scope]
	path      string
	queueTime prometheus.Observer
	tasks     [numOutcomes]prometheus.Counter
	runTime   [numOutcomes]prometheus.Observer
}

// scopeSet holds the scopes the hooks have seen, weakly: a scope the
// program and its scheduler let go is dropped from it by a cleanup. The
// last scope looked up is kept in a one-entry cache (strongly, so at most
// that one scope outlives its use by the set).
type scopeSet struct {
	last atomic.Pointer[lastScope]
	m    sync.Map // weak.Pointer[scheduler.Scope] -> *scopeInfo
	make func(sc *scheduler.Scope, wp weak.Pointer[scheduler.Scope]) *scopeInfo
	// release, if set, is told of the path of each info dropped (or made
	// and not kept).
	release func(path string)
}

type lastScope struct {
	sc   *scheduler.Scope
	info *scopeInfo
}

// get returns sc's info, adding sc and its ancestors to the set the first
// time.
func (s *scopeSet) get(sc *scheduler.Scope) *scopeInfo {
	if l := s.last.Load(); l != nil && l.sc == sc {
		return l.info
	}
	info, _ := s.add(sc)
	for p := sc.Parent(); p != nil; p = p.Parent() {
		if _, added := s.add(p); !added {
			break
		}
	}
	s.last.Store(&lastScope{sc: sc, info: info})
	return info
}

// add adds sc to the set; it reports whether sc was new.
func (s *scopeSet) add(sc *scheduler.Scope) (*scopeInfo, bool) {
	wp := weak.Make(sc)
	if v, ok := s.m.Load(wp); ok {
		return v.(*scopeInfo), false
	}
	made := s.make(sc, wp)
	v, loaded := s.m.LoadOrStore(wp, made)
	switch {
	case !loaded:
		runtime.AddCleanup(sc, func(wp weak.Pointer[scheduler.Scope]) {
			s.m.Delete(wp)
			if s.release != nil {
				s.release(made.path)
			}
		}, wp)
	case s.release != nil:
		s.release(made.path) // another call added sc first
	}
	return v.(*scopeInfo), !loaded
}

// each calls f for every scope of the set still alive.
func (s *scopeSet) each(f func(*scheduler.Scope, *scopeInfo)) {
	s.m.Range(func(_, v any) bool {
		info := v.(*scopeInfo)
		if sc := info.wp.Value(); sc != nil {
			f(sc, info)
		}
		return true
	})
}

// scopePath returns the names of sc and its ancestors from the root, joined
// by "/". A default child name ("root/2") already starts with its parent's
// name, so that part is not repeated. Bytes that are not UTF-8 become
// U+FFFD: Prometheus refuses such a label value, and the scope's tasks
// would go uncounted.
func scopePath(sc *scheduler.Scope) string {
	var names []string
	for x := sc; x != nil; x = x.Parent() {
		names = append(names, x.Name())
	}
	var b strings.Builder
	parent := ""
	for i := len(names) - 1; i >= 0; i-- {
		n := names[i]
		switch {
		case i == len(names)-1:
			b.WriteString(n)
		case parent != "" && strings.HasPrefix(n, parent+"/"):
			b.WriteString(n[len(parent):])
		default:
			b.WriteByte('/')
			b.WriteString(n)
		}
		parent = n
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}
