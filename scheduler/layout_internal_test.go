package scheduler

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// Scope's fields are grouped by cache line (the comment on Scope): the
// fields that every task's submit, admission and end read or write lie on
// a few lines, the inbox that submitters write has a line to itself, and
// the struct is in the 1,024-byte size class, whose objects start on a
// line. A field added in the wrong place, or a struct that grows, fails
// here rather than as a W7 figure (10,000 scopes) that creeps up.
func TestScopeHotLines(t *testing.T) {
	ty := reflect.TypeFor[Scope]()
	require.LessOrEqual(t, ty.Size(), uintptr(1024), "Scope left the 1,024-byte size class")
	require.Greater(t, ty.Size(), uintptr(896), "Scope left the 1,024-byte size class")

	lines := func(name string) []uintptr {
		f, ok := ty.FieldByName(name)
		require.True(t, ok, name)
		var ls []uintptr
		for l := f.Offset / 64; l <= (f.Offset+f.Type.Size()-1)/64; l++ {
			ls = append(ls, l)
		}
		return ls
	}
	// Line 0: read per task, written only when the scope is made.
	for _, f := range []string{"s", "parent", "sharer", "ctx", "deadline", "hooked", "timedHooks", "startHooks", "doneHooks", "fastOK"} {
		require.Equal(t, []uintptr{0}, lines(f), f)
	}
	require.Equal(t, []uintptr{1}, lines("bind"))
	// The inbox's line holds nothing else.
	inboxLine := lines("inbox")[0]
	for _, f := range []string{"inDirty", "dirtyNext"} {
		require.Equal(t, []uintptr{inboxLine}, lines(f), f)
	}
	for i := range ty.NumField() {
		f := ty.Field(i)
		if f.Name == "_" || f.Name == "inbox" || f.Name == "inDirty" || f.Name == "dirtyNext" {
			continue
		}
		require.NotContains(t, lines(f.Name), inboxLine, "%s shares the inbox's line", f.Name)
	}
	// What the lock's side touches per task: five lines and the stats'
	// line (each sentinel of q and running has one line to itself).
	hot := map[uintptr]bool{}
	for _, f := range []string{"lim", "tasks", "head", "key", "in", "q", "woke", "hid", "dead", "detach", "running", "idle", "insiders", "stats"} {
		for _, l := range lines(f) {
			hot[l] = true
		}
	}
	require.LessOrEqual(t, len(hot), 6, "the lock's per-task fields spread over %d lines", len(hot))
	stats := lines("stats")
	require.Len(t, stats, 1, "stats straddles two lines")
	// parked.len reads xs and rlive: both on the line of running's count.
	p, _ := ty.FieldByName("parked")
	ph := reflect.TypeFor[scopeHeap]()
	xs, _ := ph.FieldByName("xs")
	rlive, _ := ph.FieldByName("rlive")
	r, _ := ty.FieldByName("running")
	countLine := (r.Offset + r.Type.Size() - 1) / 64
	require.Equal(t, countLine, (p.Offset+xs.Offset+xs.Type.Size()-1)/64)
	require.Equal(t, countLine, (p.Offset+rlive.Offset)/64)
}
