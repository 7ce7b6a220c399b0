package lazytask_test

import (
	"context"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/lazysched/lazysched/lazytask"
)

// New: "if an option is invalid, a task already Failed with an error that
// wraps ErrInvalidOption", and (TestBadInputInvalidOptionsFail...) a later
// valid option does not repair an earlier bad one. That holds for
// WithWeight(0) followed by WithWeight(2); it must hold for the other
// options with a bad value too.
func TestALaterValidOptionDoesNotRepairAnEarlierBadOne(t *testing.T) {
	fn := func(context.Context) (int, error) { return 1, nil }
	cases := map[string][]lazytask.Option{
		"WithWeight(0), WithWeight(2)":             {lazytask.WithWeight(0), lazytask.WithWeight(2)},
		"WithTimeout(-1), WithTimeout(1s)":         {lazytask.WithTimeout(-1), lazytask.WithTimeout(time.Second)},
		"WithOptions(Weight -5), WithWeight(2)":    {lazytask.WithOptions(lazytask.Options{Weight: -5}), lazytask.WithWeight(2)},
		"WithOptions(Timeout -1), WithTimeout(1s)": {lazytask.WithOptions(lazytask.Options{Timeout: -1}), lazytask.WithTimeout(time.Second)},
	}
	if strconv.IntSize == 64 {
		cases["WithPriority(MaxInt), WithPriority(1)"] = []lazytask.Option{lazytask.WithPriority(math.MaxInt), lazytask.WithPriority(1)}
	}
	for name, opts := range cases {
		tk := lazytask.New(fn, opts...)
		assert.Equal(t, lazytask.Failed, tk.State(), "New(fn, %s)", name)
		assert.ErrorIs(t, tk.Err(), lazytask.ErrInvalidOption, "New(fn, %s)", name)
	}
}
