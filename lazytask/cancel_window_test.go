package lazytask_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

// State reads Canceled as soon as a Cancel claims the task; Err and
// Result must then not say ErrNotDone ("before the end").
func TestResultOnceStateReadsCanceledIsTheEnd(t *testing.T) {
	torn := 0
	var mu sync.Mutex
	for range 3000 {
		tk := lazytask.New(func(context.Context) (int, error) { return 1, nil })
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			for i := 0; i < 200; i++ {
				if tk.State().Terminal() {
					if _, err := tk.Result(); errors.Is(err, lazytask.ErrNotDone) {
						mu.Lock()
						torn++
						mu.Unlock()
					}
					return
				}
			}
		})
		close(start)
		tk.Cancel(nil)
		wg.Wait()
	}
	require.Zero(t, torn, "State() terminal, then Result() ErrNotDone")
}
