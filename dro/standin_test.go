package dro

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/tdro/tdro/backend"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/train"
)

// bag is a tiny stand-in embedder for loop tests that need no real model:
// mean-pooled token embeddings followed by tanh(x W + b).
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
	x := graph.Gather(st.GetVariable("/bag/emb").NodeValue(g), graph.ExpandAxes(ids, -1))
	m := graph.ConvertDType(graph.ExpandAxes(mask, -1), dtypes.Float32)
	x = graph.Div(graph.ReduceSum(graph.Mul(x, m), 1), graph.MaxScalar(graph.ReduceSum(m, 1), 1))
	x = graph.Add(graph.MatMul(x, st.GetVariable("/bag/w").NodeValue(g)), graph.ExpandAxes(st.GetVariable("/bag/b").NodeValue(g), 0))
	return graph.Tanh(x)
}

// hashEncoder tokenizes words by hashing them into vocab ids (0 is padding).
func hashEncoder(vocab, maxLen int) Encoder {
	tok := func(texts []string) train.Tokens {
		t := train.Tokens{Rows: len(texts), Len: maxLen, IDs: make([]int32, len(texts)*maxLen), Mask: make([]int32, len(texts)*maxLen)}
		for r, text := range texts {
			for j, w := range strings.Fields(text) {
				if j == maxLen {
					break
				}
				h := fnv.New32a()
				h.Write([]byte(w))
				t.IDs[r*maxLen+j] = int32(1 + h.Sum32()%uint32(vocab-1))
				t.Mask[r*maxLen+j] = 1
			}
		}
		return t
	}
	return func(b train.Batch) (*train.Inputs, error) {
		var qs, ps []string
		for _, ex := range b.Examples {
			qs = append(qs, ex.Query)
			ps = append(ps, ex.Passages...)
		}
		return &train.Inputs{Queries: tok(qs), Passages: tok(ps)}, nil
	}
}

// synthDomains makes k domains of n records each; domain g's queries and
// passages share topic words, its negatives are other topics of the domain.
func synthDomains(k, n int, seed uint64) []train.Domain {
	rng := rand.New(rand.NewPCG(seed, 7))
	doms := make([]train.Domain, k)
	for g := range k {
		doms[g].Domain = data.Domain{Name: fmt.Sprintf("dom%d", g), Path: fmt.Sprintf("dom%d.jsonl", g), Weight: 1}
		for i := range n {
			topic := fmt.Sprintf("t%d_%d", g, i)
			words := func(m int) string {
				var s []string
				for range m {
					s = append(s, fmt.Sprintf("w%d_%d", g, rng.IntN(30+20*g)))
				}
				return strings.Join(s, " ")
			}
			rec := data.Record{QueryID: topic, Query: topic + " " + words(3),
				Positives: []data.Passage{{DocID: topic, Text: topic + " " + words(6)}}}
			for j := range 3 {
				other := fmt.Sprintf("t%d_%d", g, (i+1+j)%n)
				rec.Negatives = append(rec.Negatives, data.Passage{DocID: other, Text: other + " " + words(6)})
			}
			doms[g].Records = append(doms[g].Records, rec)
		}
	}
	return doms
}

func testBackend(t testing.TB) {
	t.Helper()
	if _, err := backend.Get(); err != nil {
		t.Fatal(err)
	}
}
