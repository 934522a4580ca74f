package train

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"

	"github.com/tdro/tdro/backend"
)

// randomInputs makes b queries and b groups of g passages of random tokens
// with random lengths.
func randomInputs(rng *rand.Rand, vocab, b, g, lq, lp int) *Inputs {
	mk := func(rows, l int) Tokens {
		t := Tokens{IDs: make([]int32, rows*l), Mask: make([]int32, rows*l), Rows: rows, Len: l}
		for r := 0; r < rows; r++ {
			n := 1 + rng.IntN(l)
			for j := 0; j < n; j++ {
				t.IDs[r*l+j] = int32(1 + rng.IntN(vocab-1))
				t.Mask[r*l+j] = 1
			}
		}
		return t
	}
	return &Inputs{Queries: mk(b, lq), Passages: mk(b*g, lp)}
}

func testBackend(t testing.TB) {
	t.Helper()
	if _, err := backend.Get(); err != nil {
		t.Fatal(err)
	}
}

func testBackendOf(t testing.TB) compute.Backend {
	t.Helper()
	b, err := backend.Get()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
