package lazytask

import (
	"testing"
	"unsafe"
)

func TestTaskSizeFitsTheMemoryTarget(t *testing.T) {
	// DESIGN §10: at most 96 B per pending task.
	if got := unsafe.Sizeof(Task[int]{}); got > 96 {
		t.Errorf("unsafe.Sizeof(Task[int]{}) = %d; want <= 96", got)
	}
	if got := unsafe.Sizeof(Task[struct{}]{}); got > 96 {
		t.Errorf("unsafe.Sizeof(Task[struct{}]{}) = %d; want <= 96", got)
	}
}
