// Package standin holds small stand-ins for tests that need an embedder but
// no real model (the training and tDRO loop tests).
package standin

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"
)

// Bag is a tiny embedder: mean-pooled token embeddings followed by
// tanh(x W + b). Its variables live under /bag/ in the store NewBag returns.
type Bag struct{}

// NewBag makes a Bag over vocab token ids with dim-wide embeddings, its
// variables drawn at random from seed.
func NewBag(tb testing.TB, vocab, dim int, seed uint64) (*Bag, *gmodel.Store) {
	tb.Helper()
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
			tb.Fatal(err)
		}
	}
	return &Bag{}, store
}

// Embed maps token ids [B,L] and their mask [B,L] to embeddings [B,dim];
// masked-out positions do not count.
func (*Bag) Embed(scope *gmodel.Scope, ids, mask *graph.Node) *graph.Node {
	g := ids.Graph()
	st := scope.Store()
	x := graph.Gather(st.GetVariable("/bag/emb").NodeValue(g), graph.ExpandAxes(ids, -1)) // [B,L,D]
	m := graph.ConvertDType(graph.ExpandAxes(mask, -1), dtypes.Float32)
	x = graph.Div(graph.ReduceSum(graph.Mul(x, m), 1), graph.MaxScalar(graph.ReduceSum(m, 1), 1))
	x = graph.Add(graph.MatMul(x, st.GetVariable("/bag/w").NodeValue(g)), graph.ExpandAxes(st.GetVariable("/bag/b").NodeValue(g), 0))
	return graph.Tanh(x)
}
