package lazytask

import (
	"context"
	"testing"
	"unsafe"

	"github.com/lazysched/lazysched/internal/core"
)

func TestTaskSizeFitsTheMemoryTarget(t *testing.T) {
	// Issue 14 (DESIGN §10): a queued task costs at most 64 B. The core
	// keeps its timings in the extension, made only for tasks that ask;
	// a zero-size result comes first, so that it is not padded.
	if got := unsafe.Sizeof(core.Task{}); got > 64 {
		t.Errorf("unsafe.Sizeof(core.Task{}) = %d; want <= 64", got)
	}
	if got := unsafe.Sizeof(Task[struct{}]{}); got > 64 {
		t.Errorf("unsafe.Sizeof(Task[struct{}]{}) = %d; want <= 64", got)
	}
	if got := unsafe.Sizeof(Task[int]{}); got > 72 {
		t.Errorf("unsafe.Sizeof(Task[int]{}) = %d; want <= 72 (the core and one word)", got)
	}
}

func TestHandleOfFindsTheTaskFromItsCore(t *testing.T) {
	// The core is not the first field: the handle is found by its offset.
	a := New(func(context.Context) (string, error) { return "v", nil })
	if got := core.HandleOf(&a.base); got != any(a) {
		t.Errorf("core.HandleOf(&a.base) = %p; want %p", got, a)
	}
	b := New(func(context.Context) (struct{}, error) { return struct{}{}, nil })
	if got := core.HandleOf(&b.base); got != any(b) {
		t.Errorf("core.HandleOf(&b.base) = %p; want %p", got, b)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if v, err := a.Await(context.Background()); v != "v" || err != nil {
		t.Errorf("Await = %q, %v; want \"v\", nil (the result is stored through the offset)", v, err)
	}
}
