package scheduler

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// Scope's fields are grouped by cache line (the comment on Scope): the
// fields that every task's submit, admission and end read or write lie on
// a few lines, the inbox that submitters write has a line to itself, and
// the struct is in a size class whose objects start on a line (every class
// from 512 to 2,048 bytes is a multiple of 64). A field added in the wrong
// place fails here rather than as a W7 figure (10,000 scopes) that creeps
// up.
func TestScopeHotLines(t *testing.T) {
	ty := reflect.TypeFor[Scope]()
	require.Greater(t, ty.Size(), uintptr(512), "Scope is in a size class that may not start on a line")
	require.LessOrEqual(t, ty.Size(), uintptr(2048), "Scope is in a size class that may not start on a line")

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
	for _, f := range []string{"dirtyNext"} {
		require.Equal(t, []uintptr{inboxLine}, lines(f), f)
	}
	for i := range ty.NumField() {
		f := ty.Field(i)
		if f.Name == "_" || f.Name == "inbox" || f.Name == "dirtyNext" {
			continue
		}
		require.NotContains(t, lines(f.Name), inboxLine, "%s shares the inbox's line", f.Name)
	}
	// What the lock's side touches per task: four lines, with the
	// counters that every task moves (the first five).
	hot := map[uintptr]bool{}
	for _, f := range []string{"lim", "tasks", "head", "key", "in", "q", "running", "woke", "hid", "dead", "detach", "idle", "insiders"} {
		for _, l := range lines(f) {
			hot[l] = true
		}
	}
	st, _ := ty.FieldByName("stats")
	for _, k := range []counter{cCreated, cSubmitted, cSucceeded, cFailed, cCanceled} {
		hot[(st.Offset+uintptr(k)*8)/64] = true
	}
	require.LessOrEqual(t, len(hot), 4, "the lock's per-task fields spread over %d lines", len(hot))
	require.Len(t, lines("q"), 1, "q straddles two lines")
	// parked.len reads xs and rlive: both on running's line.
	p, _ := ty.FieldByName("parked")
	ph := reflect.TypeFor[scopeHeap]()
	xs, _ := ph.FieldByName("xs")
	rlive, _ := ph.FieldByName("rlive")
	runningLine := lines("running")
	require.Len(t, runningLine, 1, "running straddles two lines")
	require.Equal(t, runningLine[0], (p.Offset+xs.Offset+xs.Type.Size()-1)/64, "parked.xs")
	require.Equal(t, runningLine[0], (p.Offset+rlive.Offset+rlive.Type.Size()-1)/64, "parked.rlive")
	require.Equal(t, runningLine[0], (p.Offset+xs.Offset)/64, "parked.xs")
}
