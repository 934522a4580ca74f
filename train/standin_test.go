package train

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/tdro/tdro/backend"
)

// bag is a tiny stand-in embedder for tests that need no real model: a
// mean-pooled embedding bag followed by tanh(x W + b).
type bag struct{ vocab, dim int }

func newBag(t testing.TB, vocab, dim int, seed uint64) (*bag, *gmodel.Store) {
	t.Helper()
	store := gmodel.NewStore()
	rng := rand.New(rand.NewPCG(seed, 1))
	randn := func(n int, std float64) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * std)
		}
		return x
	}
	for _, v := range []struct {
		path string
		val  *tensors.Tensor
	}{
		{"/bag/emb", tensors.FromFlatDataAndDimensions(randn(vocab*dim, 1), vocab, dim)},
		{"/bag/w", tensors.FromFlatDataAndDimensions(randn(dim*dim, 0.3), dim, dim)},
		{"/bag/b", tensors.FromFlatDataAndDimensions(randn(dim, 0.1), dim)},
	} {
		if _, err := store.CreateVariable(v.path, v.val); err != nil {
			t.Fatal(err)
		}
	}
	return &bag{vocab, dim}, store
}

func (b *bag) Embed(scope *gmodel.Scope, ids, mask *graph.Node) *graph.Node {
	g := ids.Graph()
	st := scope.Store()
	x := graph.Gather(st.GetVariable("/bag/emb").NodeValue(g), graph.ExpandAxes(ids, -1)) // [B,L,D]
	m := graph.ConvertDType(graph.ExpandAxes(mask, -1), dtypes.Float32)
	x = graph.Div(graph.ReduceSum(graph.Mul(x, m), 1), graph.MaxScalar(graph.ReduceSum(m, 1), 1))
	x = graph.Add(graph.MatMul(x, st.GetVariable("/bag/w").NodeValue(g)), graph.ExpandAxes(st.GetVariable("/bag/b").NodeValue(g), 0))
	return graph.Tanh(x)
}

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
