package main

import "sync/atomic"

// gauge counts the job functions running now, measured inside the jobs
// themselves so that it checks the scheduler rather than trusting its
// counters: under is the jobs admitted under the cap, over the ones
// force-run past it. The zero value is ready to use.
type gauge struct {
	under, over                   atomic.Int64
	peakUnder, peakOver, peakBoth atomic.Int64
}

func (g *gauge) enter(overCap bool) {
	var u, o int64
	if overCap {
		o, u = g.over.Add(1), g.under.Load()
	} else {
		u, o = g.under.Add(1), g.over.Load()
	}
	raise(&g.peakUnder, u)
	raise(&g.peakOver, o)
	raise(&g.peakBoth, u+o)
}

func (g *gauge) leave(overCap bool) {
	if overCap {
		g.over.Add(-1)
	} else {
		g.under.Add(-1)
	}
}

// raise sets *peak to v if v is higher.
func raise(peak *atomic.Int64, v int64) {
	for p := peak.Load(); v > p; p = peak.Load() {
		if peak.CompareAndSwap(p, v) {
			return
		}
	}
}
