package scheduler_test

import (
	"context"
	"math"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func TestNilOrZeroHandlesAreForeign(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(1))
	var typedNil *lazytask.Task[int]
	zero := new(lazytask.Task[int]) // not made by lazytask.New
	for name, h := range map[string]lazytask.Handle{"typed nil": typedNil, "zero Task": zero} {
		assert.ErrorIs(t, s.Enqueue(h), scheduler.ErrForeignHandle, "Enqueue(%s)", name)
		assert.ErrorIs(t, s.Force(h), scheduler.ErrForeignHandle, "Force(%s)", name)
		assert.ErrorIs(t, s.Promote(h), scheduler.ErrForeignHandle, "Promote(%s)", name)
		assert.ErrorIs(t, s.Root().Enqueue(h), scheduler.ErrForeignHandle, "Scope.Enqueue(%s)", name)
	}
	assert.ErrorIs(t, zero.Start(), lazytask.ErrNilFunc, "zero Task's Start()")
	require.NoError(t, s.Wait(context.Background()))
	assert.Zero(t, s.Stats().Created, "Stats().Created after refused handles")
}

func TestNilSpawnersAreRefusedWithErrNilScope(t *testing.T) {
	fn := func(context.Context) (int, error) { return 1, nil }
	var nilSched *scheduler.Scheduler
	var nilScope *scheduler.Scope
	for name, sp := range map[string]scheduler.Spawner{"nil Spawner": nil, "nil *Scheduler": nilSched, "nil *Scope": nilScope} {
		h, err := scheduler.Submit(sp, fn)
		require.ErrorIs(t, err, scheduler.ErrNilScope, "Submit(%s)", name)
		assert.Equal(t, lazytask.Failed, h.State(), "Submit(%s)'s task", name)
		_, err = scheduler.Go(sp, func(context.Context) error { return nil })
		assert.ErrorIs(t, err, scheduler.ErrNilScope, "Go(%s)", name)
		_, err = scheduler.SubmitWait(context.Background(), sp, fn)
		assert.ErrorIs(t, err, scheduler.ErrNilScope, "SubmitWait(%s)", name)
		lt := scheduler.NewTask(sp, fn)
		assert.ErrorIs(t, lt.Err(), scheduler.ErrNilScope, "NewTask(%s).Err()", name)
	}
}

func TestMethodsOnNilReceiversPanicNamingThem(t *testing.T) {
	var s *scheduler.Scheduler
	var sc *scheduler.Scope
	bg := context.Background()
	for name, call := range map[string]func(){
		"Scheduler.Stats":    func() { s.Stats() },
		"Scheduler.Root":     func() { s.Root() },
		"Scheduler.Shutdown": func() { _ = s.Shutdown(bg) },
		"Scheduler.Wait":     func() { _ = s.Wait(bg) },
		"Scheduler.Resize":   func() { _ = s.Resize(2) },
	} {
		assert.PanicsWithValue(t, "scheduler: method called on a nil *Scheduler", call, name)
	}
	for name, call := range map[string]func(){
		"Scope.Cancel":   func() { sc.Cancel(nil) },
		"Scope.Wait":     func() { _ = sc.Wait(bg) },
		"Scope.Shutdown": func() { _ = sc.Shutdown(bg) },
		"Scope.NewScope": func() { _, _ = sc.NewScope() },
		"Scope.Context":  func() { sc.Context() },
		"Scope.Snapshot": func() { sc.Snapshot() },
		"Scope.Err":      func() { _ = sc.Err() },
	} {
		assert.PanicsWithValue(t, "scheduler: method called on a nil *Scope", call, name)
	}
}

// Every exported method of a nil or zero *Scheduler and *Scope panics
// with the message that names the mistake (a zero Stats used to panic
// with a nil dereference); a zero one given as a Spawner is ErrNilScope.
func TestEveryMethodOnNilOrZeroReceiversPanicsNamingIt(t *testing.T) {
	h := lazytask.New(func(context.Context) (int, error) { return 1, nil })
	arg := func(ty reflect.Type) reflect.Value {
		switch {
		case ty == reflect.TypeFor[context.Context]():
			return reflect.ValueOf(context.Background())
		case ty == reflect.TypeFor[lazytask.Handle]():
			return reflect.ValueOf(h)
		case ty.Kind() == reflect.Int:
			return reflect.ValueOf(2).Convert(ty)
		}
		return reflect.Zero(ty)
	}
	for _, rc := range []struct {
		name string
		recv any
		want string
	}{
		{"nil *Scheduler", (*scheduler.Scheduler)(nil), "scheduler: method called on a nil *Scheduler"},
		{"zero Scheduler", new(scheduler.Scheduler), "scheduler: method called on a zero Scheduler (make one with New)"},
		{"nil *Scope", (*scheduler.Scope)(nil), "scheduler: method called on a nil *Scope"},
		{"zero Scope", new(scheduler.Scope), "scheduler: method called on a zero Scope (make one with Scope.NewScope)"},
	} {
		v := reflect.ValueOf(rc.recv)
		require.Positive(t, v.NumMethod(), rc.name)
		for i := range v.NumMethod() {
			m, name := v.Method(i), v.Type().Method(i).Name
			in := make([]reflect.Value, m.Type().NumIn())
			for j := range in {
				in[j] = arg(m.Type().In(j))
			}
			if m.Type().IsVariadic() {
				in = in[:len(in)-1]
			}
			assert.PanicsWithValue(t, rc.want, func() { m.Call(in) }, "%s.%s", rc.name, name)
		}
		sp := rc.recv.(scheduler.Spawner)
		_, err := scheduler.Submit(sp, func(context.Context) (int, error) { return 1, nil })
		assert.ErrorIs(t, err, scheduler.ErrNilScope, "Submit(%s)", rc.name)
	}
	assert.Equal(t, lazytask.Lazy, h.State(), "the handle given to the methods")
}

// On an Unlimited scheduler the slot count is an int64: weights whose sum
// would overflow it are refused (Stats().InUse read -2 before).
func TestUnlimitedSchedulerRefusesWeightsThatWouldOverflow(t *testing.T) {
	s := scSched(t, scheduler.Unlimited())
	gate := scNewGate(t)
	big, err := scheduler.Submit(s, gate.fn, lazytask.WithWeight(math.MaxInt64))
	require.NoError(t, err)
	<-gate.started
	_, err = scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithWeight(2))
	require.ErrorIs(t, err, scheduler.ErrWeightTooLarge, "Go(weight 2) next to MaxInt64 slots in use")
	assert.Equal(t, math.MaxInt64, s.Stats().InUse, "Stats().InUse")
	gate.open()
	_, err = big.Await(context.Background())
	require.NoError(t, err)
}
