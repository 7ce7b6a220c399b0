package scheduler

import (
	"time"

	"github.com/lazysched/lazysched/internal/core"
	"github.com/lazysched/lazysched/lazytask"
)

// ScopeSnapshot is a debugging view of a scope, its tasks and its children
// at one moment.
type ScopeSnapshot struct {
	Name string
	// Limit is the scope's own cap (0 if it has none), InUse the slots its
	// subtree's tasks take at this level.
	Limit, InUse int
	// Queued, Running and Lazy count the scope's own tasks.
	Queued, Running, Lazy int
	// Closed and Canceled tell the scope's life.
	Closed, Canceled bool
	// Tasks are the scope's own tasks: running, then queued in admission
	// order, then lazy.
	Tasks []TaskSnapshot
	// Children are the child scopes.
	Children []ScopeSnapshot
}

// TaskSnapshot is one task in a ScopeSnapshot.
type TaskSnapshot struct {
	Name     string
	State    lazytask.State
	Priority int
	Labels   map[string]string
	// Age is the time since the task was created; 0 for a task that keeps
	// no timings (WithTimings).
	Age     time.Duration
	OverCap bool
}

// Snapshot returns the scope's subtree with its tasks. It holds the
// scheduler's lock while it copies, so it is meant for debugging and
// monitors, not for a hot loop.
func (sc *Scope) Snapshot() ScopeSnapshot {
	s := sc.sched()
	s.lock()
	defer s.unlock()
	return sc.snapshotLocked(s.clk.Time())
}

// Snapshot returns the root scope's snapshot: the whole tree.
func (s *Scheduler) Snapshot() ScopeSnapshot { return s.rootScope().Snapshot() }

func (sc *Scope) snapshotLocked(now time.Time) ScopeSnapshot {
	snap := ScopeSnapshot{
		Name: sc.name, Limit: int(sc.lim.Limit()), InUse: int(sc.lim.InUse()),
		Queued: sc.q.Len(), Running: sc.running.Len(), Lazy: sc.lazy.Len(),
		Closed: sc.closed, Canceled: sc.dead,
	}
	add := func(c *core.Task) {
		i := infoOf(c)
		at := now
		if sc.s.clk != nil && !core.CreatedOnClock(c) {
			at = time.Now() // made by lazytask.New: created on the runtime's clock
		}
		var age time.Duration
		if !i.Timings.Created.IsZero() {
			age = at.Sub(i.Timings.Created)
		}
		snap.Tasks = append(snap.Tasks, TaskSnapshot{
			Name: i.Name, State: i.State, Priority: i.Priority, Labels: i.Labels,
			Age: age, OverCap: i.OverCap,
		})
	}
	sc.running.Each(add)
	sc.q.EachAged(sc.s.agingStep, add) // the order peekHead admits them in (Each's without aging)
	sc.lazy.Each(add)
	for ch := range sc.children {
		snap.Children = append(snap.Children, ch.snapshotLocked(now))
	}
	return snap
}
