package factory_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/scheduler"
)

// Of and Submit on nil and zero schedulers and scopes: the nil ones are
// refused (Of gives nil, Submit ErrNilScope), the zero ones panic with the
// message of their methods, as their docs say.
func TestHoOfAndSubmitOnNilAndZeroSpawners(t *testing.T) {
	var nilSched *scheduler.Scheduler
	var nilScope *scheduler.Scope
	assert.Nil(t, factory.Of(nil))
	assert.Nil(t, factory.Of(nilSched))
	assert.Nil(t, factory.Of(nilScope))
	_, err := factory.Submit(nilSched, func(context.Context) (int, error) { return 1, nil })
	assert.ErrorIs(t, err, scheduler.ErrNilScope)
	const zeroSched = "scheduler: method called on a zero Scheduler (make one with New)"
	const zeroScope = "scheduler: method called on a zero Scope (make one with Scope.NewScope)"
	assert.PanicsWithValue(t, zeroSched, func() { factory.Of(new(scheduler.Scheduler)) })
	assert.PanicsWithValue(t, zeroSched, func() {
		_, _ = factory.Submit(new(scheduler.Scheduler), func(context.Context) (int, error) { return 1, nil })
	})
	assert.PanicsWithValue(t, zeroScope, func() {
		_, _ = factory.Submit(new(scheduler.Scope), func(context.Context) (int, error) { return 1, nil })
	})
	assert.PanicsWithValue(t, zeroScope, func() {
		_, _ = factory.Gather(bg, new(scheduler.Scope), func(context.Context) (int, error) { return 1, nil })
	})
}
