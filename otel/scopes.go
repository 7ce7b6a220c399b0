package lazyotel

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"weak"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/lazysched/lazysched/scheduler"
)

// scopeInfo is what the hooks need of a scope, computed once: its path and
// the attribute sets of its measurements, ready to pass.
type scopeInfo struct {
	wp   weak.Pointer[scheduler.Scope]
	path string
	attr attribute.KeyValue
	set  metric.MeasurementOption // lazysched.scope alone, for the gauges
	// The options of the measurements, as slices made once, so that
	// passing them allocates nothing: lazysched.scope alone (record), and
	// lazysched.scope with lazysched.task.outcome (add, recordBy).
	record   []metric.RecordOption
	add      [numOutcomes][]metric.AddOption
	recordBy [numOutcomes][]metric.RecordOption
}

// scopeSet holds the scopes the hooks have seen, weakly: a scope the
// program and its scheduler let go is dropped from it by a cleanup. The
// last scope looked up is kept in a one-entry cache (strongly, so at most
// that one scope outlives its use by the set).
type scopeSet struct {
	last atomic.Pointer[lastScope]
	m    sync.Map // weak.Pointer[scheduler.Scope] -> *scopeInfo
}

type lastScope struct {
	sc   *scheduler.Scope
	info *scopeInfo
}

// get returns sc's info, adding sc to the set the first time.
func (s *scopeSet) get(sc *scheduler.Scope) *scopeInfo {
	if l := s.last.Load(); l != nil && l.sc == sc {
		return l.info
	}
	return s.getSlow(sc)
}

func (s *scopeSet) getSlow(sc *scheduler.Scope) *scopeInfo {
	wp := weak.Make(sc)
	var info *scopeInfo
	if v, ok := s.m.Load(wp); ok {
		info = v.(*scopeInfo)
	} else {
		info = newScopeInfo(sc, wp)
		if v, loaded := s.m.LoadOrStore(wp, info); loaded {
			info = v.(*scopeInfo)
		} else {
			runtime.AddCleanup(sc, func(wp weak.Pointer[scheduler.Scope]) { s.m.Delete(wp) }, wp)
			// The gauges show the ancestors too: the root's are the
			// scheduler's.
			for p := sc.Parent(); p != nil; p = p.Parent() {
				pw := weak.Make(p)
				if _, ok := s.m.Load(pw); ok {
					break
				}
				if _, loaded := s.m.LoadOrStore(pw, newScopeInfo(p, pw)); !loaded {
					runtime.AddCleanup(p, func(wp weak.Pointer[scheduler.Scope]) { s.m.Delete(wp) }, pw)
				}
			}
		}
	}
	s.last.Store(&lastScope{sc: sc, info: info})
	return info
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

func newScopeInfo(sc *scheduler.Scope, wp weak.Pointer[scheduler.Scope]) *scopeInfo {
	path := scopePath(sc)
	info := &scopeInfo{wp: wp, path: path, attr: keyScope.String(path)}
	info.set = metric.WithAttributeSet(attribute.NewSet(info.attr))
	info.record = []metric.RecordOption{info.set}
	for o := range outcome(numOutcomes) {
		by := metric.WithAttributeSet(attribute.NewSet(info.attr, keyOutcome.String(o.String())))
		info.add[o] = []metric.AddOption{by}
		info.recordBy[o] = []metric.RecordOption{by}
	}
	return info
}

// scopePath returns the names of sc and its ancestors from the root, joined
// by "/". A default child name ("root/2") already starts with its parent's
// name, so that part is not repeated.
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
	return b.String()
}
