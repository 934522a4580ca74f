// Package parallel runs independent per-item work on all cores.
package parallel

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// For calls fn(i) for every i in [0, n) on up to GOMAXPROCS goroutines, but
// no more than one per minPer items, so that small inputs stay on one
// goroutine. Indexes are handed out one at a time, so items of uneven cost
// balance. Once ctx is done no further index is handed out; For returns
// when the calls under way have finished, with ctx.Err(). fn must be safe to
// call concurrently for different indexes.
func For(ctx context.Context, n, minPer int, fn func(i int)) error {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/max(1, minPer)))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}
