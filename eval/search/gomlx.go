package search

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// NewGoMLXProduct computes the block products as a GoMLX graph on backend
// (the pure-Go backend's packed AVX2 matmul, or a GPU through XLA). One graph
// is compiled per block shape and reused, with no cap on their number: one
// evaluation of many small collections (the held-out split: one per
// training domain) meets more than GoMLX's default 32 shapes.
func NewGoMLXProduct(backend compute.Backend) (Product, error) {
	exec, err := graph.NewExec(backend, func(q, c *graph.Node) *graph.Node {
		return graph.Einsum("qd,cd->qc", q, c)
	})
	if err != nil {
		return nil, fmt.Errorf("search: build GoMLX product: %w", err)
	}
	exec.SetMaxCache(-1)
	return func(q, c []float32, d int, out []float32) error {
		nq, nc := len(q)/d, len(c)/d
		if len(out) < nq*nc {
			return fmt.Errorf("search: product output has %d values, need %d", len(out), nq*nc)
		}
		qt := tensors.FromFlatDataAndDimensions(q, nq, d)
		ct := tensors.FromFlatDataAndDimensions(c, nc, d)
		defer qt.MustFinalizeAll()
		defer ct.MustFinalizeAll()
		res, err := exec.Exec(qt, ct)
		if err != nil {
			return fmt.Errorf("search: GoMLX product: %w", err)
		}
		defer res[0].MustFinalizeAll()
		return tensors.ConstFlatData(res[0], func(flat []float32) { copy(out, flat) })
	}, nil
}
