package search

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tdro/tdro/backend"
)

// Search throughput as effective GFLOP/s of the scoring products
// (2*queries*corpus*dim per search); this machine's peak is about
// 200 GFLOP/s (2 cores x 2 FMA ports x 8 float32 lanes x 2 flops x ~3 GHz).
// Both products run inside Exact (heaps included), one and two workers.
func BenchmarkExactSearch(b *testing.B) {
	const nq, nc, d, k = 256, 32768, 768, 100
	rng := rand.New(rand.NewPCG(3, 4))
	q := randRows(rng, nq, d)
	m, _ := NewMatrix(randRows(rng, nc, d), d)
	products := map[string]Product{"go": GoProduct}
	if be, err := backend.Get(); err == nil {
		if p, err := NewGoMLXProduct(be); err == nil {
			products["gomlx"] = p
		}
	}
	for _, name := range []string{"go", "gomlx"} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", name, workers), func(b *testing.B) {
				p, ok := products[name]
				if !ok {
					b.Skip("no backend")
				}
				ex := &Exact{Corpus: m, Product: p, Workers: workers}
				if _, err := ex.Search(context.Background(), q, k); err != nil { // compile, warm up
					b.Fatal(err)
				}
				b.ResetTimer()
				for b.Loop() {
					if _, err := ex.Search(context.Background(), q, k); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(2*nq*nc*d*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
