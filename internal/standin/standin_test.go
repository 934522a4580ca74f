package standin

import (
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/tdro/tdro/backend"
)

// The bag embeds each row to dim values in (-1, 1), and tokens behind a
// zero mask do not change a row's embedding.
func TestBagIgnoresMaskedTokens(t *testing.T) {
	const dim = 4
	bag, store := NewBag(t, 10, dim, 1)
	ids := tensors.FromFlatDataAndDimensions([]int32{3, 5, 0, 3, 5, 9}, 2, 3)
	mask := tensors.FromFlatDataAndDimensions([]int32{1, 1, 0, 1, 1, 0}, 2, 3)
	out, err := gmodel.ExecOnce(backend.MustGet(), store, func(scope *gmodel.Scope, ids, mask *graph.Node) *graph.Node {
		return bag.Embed(scope, ids, mask)
	}, ids, mask)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Shape().Dimensions; len(got) != 2 || got[0] != 2 || got[1] != dim {
		t.Fatalf("shape %v, want [2 %d]", got, dim)
	}
	e := tensors.MustCopyFlatData[float32](out)
	for i := range dim {
		if e[i] != e[dim+i] {
			t.Fatalf("masked token changed the embedding: %v", e)
		}
		if e[i] <= -1 || e[i] >= 1 || e[i] == 0 {
			t.Fatalf("embedding %v outside tanh's open range or zero", e)
		}
	}
}
