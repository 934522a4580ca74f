package train

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// Similarity functions for InfoNCE.
const (
	Cosine = "cos"
	Dot    = "dot"
)

// Loss is the per-example training objective on a batch's embeddings:
// q [B, D] queries and p [B*G, D] passage groups (each its query's positive,
// then its hard negatives) -> [B]. Scorers and trainers take any Loss, and
// both gradient strategies (one graph, or the gradient cache) wrap it, so a
// new objective (or a cross-device variant) is a new type with this method.
// LossConfig, InfoNCE, is the default.
type Loss interface {
	PerExample(q, p *graph.Node) *graph.Node
}

// PerExample implements Loss: InfoNCE with these settings.
func (c LossConfig) PerExample(q, p *graph.Node) *graph.Node { return InfoNCE(q, p, c) }

// LossConfig configures InfoNCE.
type LossConfig struct {
	Temperature float64 `json:"temperature" help:"InfoNCE temperature: logits are similarity / temperature"`
	Similarity  string  `json:"similarity" help:"similarity: cos or dot"`
	// HardNegativesOnly scores each query against its own group (positive +
	// hard negatives) only, without in-batch negatives — tDRO's proxy and
	// reference losses, where other examples may be false negatives.
	HardNegativesOnly bool `json:"hard_negatives_only,omitempty" help:"score each query against its own positive and hard negatives only (no in-batch negatives)"`
	// CrossDeviceNegatives gathers passages from every device as extra
	// negatives (and scales the loss by the device count, as Tevatron does).
	// Training here runs on one device, where this is accepted and is a
	// no-op; on a backend with several devices it is an error (checkDevices).
	CrossDeviceNegatives bool `json:"cross_device_negatives,omitempty" help:"gather passages across devices as negatives (a no-op on one device)"`
}

// Validate reports a configuration InfoNCE cannot use.
func (c LossConfig) Validate() error {
	if !(c.Temperature > 0) {
		return fmt.Errorf("temperature must be > 0, got %v", c.Temperature)
	}
	switch c.Similarity {
	case "", Cosine, Dot:
	default:
		return fmt.Errorf("similarity must be %q or %q, got %q", Cosine, Dot, c.Similarity)
	}
	return nil
}

// checkDevices refuses cross-device negatives on a backend with several
// devices: tdro trains on one device (no data-parallel all-gather), so the
// option would silently do nothing there. On one device the gathered set is
// the local batch and the loss factor 1: accepted, a no-op.
func (c LossConfig) checkDevices(devices int) error {
	if c.CrossDeviceNegatives && devices > 1 {
		return fmt.Errorf("cross_device_negatives: the backend has %d devices, but tdro trains on one (data-parallel training with an all-gather of passages is not implemented); unset the option", devices)
	}
	return nil
}

// InfoNCE returns the per-example contrastive loss, shape [B].
//
// q holds B query embeddings [B, D]; p holds B groups of G passage embeddings
// [B*G, D], each group its query's positive first, then its hard negatives.
// With in-batch negatives (the default) query i is scored against all B*G
// passages and its target is passage i*G; with HardNegativesOnly against its
// own G passages, target 0. Callers weight and average the result.
func InfoNCE(q, p *graph.Node, cfg LossConfig) *graph.Node {
	b := q.Shape().Dimensions[0]
	n := p.Shape().Dimensions[0]
	if q.Rank() != 2 || p.Rank() != 2 || n%b != 0 {
		panic(fmt.Sprintf("InfoNCE: want q [B,D] and p [B*G,D], got %s and %s", q.Shape(), p.Shape()))
	}
	group := n / b
	if cfg.Similarity != Dot {
		q = graph.L2Normalize(q, -1)
		p = graph.L2Normalize(p, -1)
	}
	invT := 1 / cfg.Temperature
	if cfg.HardNegativesOnly {
		d := q.Shape().Dimensions[1]
		scores := graph.ReduceSum(graph.Mul(graph.ExpandAxes(q, 1), graph.Reshape(p, b, group, d)), -1) // [B, G]
		logp := graph.LogSoftmax(graph.MulScalar(scores, invT), -1)
		return graph.Neg(graph.Squeeze(graph.Slice(logp, graph.AxisRange(), graph.AxisElem(0)), 1))
	}
	scores := graph.Einsum("bd,nd->bn", q, p) // [B, B*G]
	logp := graph.LogSoftmax(graph.MulScalar(scores, invT), -1)
	g := q.Graph()
	rows := graph.Iota(g, shapes.Make(dtypes.Int32, b, n), 0)
	cols := graph.Iota(g, shapes.Make(dtypes.Int32, b, n), 1)
	target := graph.ConvertDType(graph.Equal(cols, graph.MulScalar(rows, group)), logp.DType())
	return graph.Neg(graph.ReduceSum(graph.Mul(logp, target), -1))
}
