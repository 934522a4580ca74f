package search

import (
	"context"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/tdro/tdro/backend"
)

func randRows(rng *rand.Rand, n, d int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		out[i] = make([]float32, d)
		for j := range out[i] {
			out[i][j] = float32(rng.NormFloat64())
		}
	}
	return out
}

// reference ranks every row by a float64 dot product.
func reference(q, c [][]float32, k int) [][]Hit {
	out := make([][]Hit, len(q))
	for i, qi := range q {
		all := make([]Hit, len(c))
		for j, cj := range c {
			s := 0.0
			for t := range qi {
				s += float64(qi[t]) * float64(cj[t])
			}
			all[j] = Hit{Doc: j, Score: float32(s)}
		}
		sort.Slice(all, func(a, b int) bool { return better(all[a], all[b]) })
		out[i] = all[:min(k, len(all))]
	}
	return out
}

func TestExactMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ nq, nc, d, k, block, workers int }{
		{9, 301, 64, 10, 50, 3}, // ragged query tile, odd corpus, several blocks
		{4, 130, 24, 5, 4096, 1},
		{5, 77, 13, 7, 16, 2}, // dimension not a multiple of 8
		{3, 6, 8, 100, 4, 2},  // k larger than the corpus
		{1, 1000, 768, 20, 256, 2},
	} {
		q, c := randRows(rng, tc.nq, tc.d), randRows(rng, tc.nc, tc.d)
		m, err := NewMatrix(c, tc.d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := (&Exact{Corpus: m, BlockRows: tc.block, QueryBlock: 2, Workers: tc.workers}).Search(context.Background(), q, tc.k)
		if err != nil {
			t.Fatal(err)
		}
		if tc.nc <= 301 { // the GoMLX product must give the same hits
			p, err := NewGoMLXProduct(backend.MustGet())
			if err != nil {
				t.Fatal(err)
			}
			alt, err := (&Exact{Corpus: m, Product: p, BlockRows: tc.block, Workers: tc.workers}).Search(context.Background(), q, tc.k)
			if err != nil {
				t.Fatal(err)
			}
			for i := range alt {
				for r := range alt[i] {
					if alt[i][r].Doc != got[i][r].Doc && math.Abs(float64(alt[i][r].Score-got[i][r].Score)) > 1e-3 {
						t.Fatalf("%+v: GoMLX hit %+v, Go %+v", tc, alt[i][r], got[i][r])
					}
				}
			}
		}
		want := reference(q, c, tc.k)
		for i := range want {
			if len(got[i]) != len(want[i]) {
				t.Fatalf("%+v query %d: %d hits, want %d", tc, i, len(got[i]), len(want[i]))
			}
			for r := range want[i] {
				g, w := got[i][r], want[i][r]
				if g.Doc != w.Doc && math.Abs(float64(g.Score-w.Score)) > 1e-4*math.Sqrt(float64(tc.d)) {
					t.Fatalf("%+v query %d rank %d: got %+v want %+v", tc, i, r, g, w)
				}
				if math.Abs(float64(g.Score-w.Score)) > 1e-4*math.Sqrt(float64(tc.d)) {
					t.Fatalf("%+v query %d rank %d: score %v want %v", tc, i, r, g.Score, w.Score)
				}
			}
		}
	}
}

func TestTopKTies(t *testing.T) {
	h := topK{k: 2}
	for _, x := range []Hit{{5, 1}, {3, 1}, {9, 2}, {1, 1}} {
		h.push(x)
	}
	got := h.sorted()
	if len(got) != 2 || got[0] != (Hit{9, 2}) || got[1] != (Hit{1, 1}) {
		t.Fatalf("got %v, want [{9 2} {1 1}] (ties keep the lower row)", got)
	}
}

func TestSearchErrors(t *testing.T) {
	m, _ := NewMatrix([][]float32{{1, 2}, {3, 4}}, 2)
	if _, err := (&Exact{Corpus: m}).Search(context.Background(), [][]float32{{1, 2, 3}}, 1); err == nil {
		t.Error("query of the wrong dimension accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&Exact{Corpus: m, BlockRows: 1}).Search(ctx, [][]float32{{1, 2}}, 1); err == nil {
		t.Error("cancelled search returned no error")
	}
}
