package model

import (
	"fmt"
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	gmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/nn"
)

// maskValue is added to the attention scores of masked keys: exp() of it
// underflows to exactly 0 in float32, like Hugging Face's finfo.min, without
// risking -inf arithmetic.
const maskValue = -1e9

// Embed is the retrieval embedding: ids and mask [batch, seq] int32 (right
// padded, mask 1 for real tokens) -> [batch, hidden] float32, pooled as the
// config says and L2-normalized when Config.Normalize is set.
//
// scope must belong to m.Store (the Exec's store); it decides whether dropout
// is active (training) and supplies its randomness.
func (m *Model) Embed(scope *gmodel.Scope, ids, mask *graph.Node) *graph.Node {
	h := m.HiddenStates(scope, ids, mask)
	out := Pool(h, mask, m.Config.Pooling)
	if m.Config.Normalize {
		out = graph.L2Normalize(out, -1)
	}
	return out
}

// Pool reduces hidden states [batch, seq, hidden] to [batch, hidden].
// PoolLast picks the last real token of each right-padded row.
func Pool(h, mask *graph.Node, p Pooling) *graph.Node {
	g := h.Graph()
	fmask := graph.ConvertDType(mask, h.DType())
	switch p {
	case PoolCLS:
		return graph.Squeeze(graph.Slice(h, graph.AxisRange(), graph.AxisElem(0)), 1)
	case PoolMean:
		sum := graph.Einsum("bl,bld->bd", fmask, h)
		n := graph.Max(graph.ReduceSum(fmask, 1), graph.ScalarOne(g, h.DType()))
		return graph.Div(sum, graph.InsertAxes(n, -1))
	case PoolLast:
		last := graph.Sub(graph.ReduceSum(graph.ConvertDType(mask, dtypes.Int32), 1), graph.Const(g, int32(1)))
		pos := graph.Iota(g, mask.Shape().Clone(), 1)
		pick := graph.ConvertDType(graph.Equal(graph.ConvertDType(pos, dtypes.Int32), graph.InsertAxes(last, -1)), h.DType())
		return graph.Einsum("bl,bld->bd", pick, h)
	}
	panic(fmt.Sprintf("model: unknown pooling %q", p))
}

// HiddenStates is the last layer's output [batch, seq, hidden] (after the
// final RMSNorm for decoders), like Hugging Face's last_hidden_state.
func (m *Model) HiddenStates(scope *gmodel.Scope, ids, mask *graph.Node) *graph.Node {
	if scope.Store() != m.Store {
		panic("model: Embed/HiddenStates called with a scope from another Store than Model.Store")
	}
	if ids.Rank() != 2 || mask.Rank() != 2 {
		panic(fmt.Sprintf("model: ids and mask must be [batch, seq], got %s and %s", ids.Shape(), mask.Shape()))
	}
	b := &builder{m: m, scope: scope, g: ids.Graph()}
	return m.Config.family().hidden(b, ids, mask)
}

// Logits are the language-model logits [batch, seq, vocab] of a decoder:
// lm_head.weight when present, else the tied input embeddings.
func (m *Model) Logits(scope *gmodel.Scope, ids, mask *graph.Node) *graph.Node {
	h := m.HiddenStates(scope, ids, mask)
	b := &builder{m: m, scope: scope, g: ids.Graph()}
	head := "lm_head.weight"
	if m.Var(head) == nil {
		head = m.Config.family().inputEmbedding()
	}
	return nn.Dense(h, b.w(head), nil, compute.DenseLayoutOutputsInput)
}

type builder struct {
	m     *Model
	scope *gmodel.Scope
	g     *graph.Graph
}

// w is the graph value of a weight; it panics with the tensor name when the
// weight is missing (Load checks completeness first, so this is a bug).
func (b *builder) w(name string) *graph.Node {
	v := b.m.Var(name)
	if v == nil {
		panic(fmt.Sprintf("model: weight %s is missing", name))
	}
	return v.NodeValue(b.g)
}

func (b *builder) optional(name string) *graph.Node {
	if v := b.m.Var(name); v != nil {
		return v.NodeValue(b.g)
	}
	return nil
}

func (b *builder) dropout(x *graph.Node, rate float64) *graph.Node {
	return layers.DropoutStatic(b.scope, x, rate)
}

// linear is x·Wᵀ + bias for the Hugging Face Linear called prefix, plus its
// LoRA adapter when one is attached, with an optional fused activation.
func (b *builder) linear(x *graph.Node, prefix string, act activation.Type) *graph.Node {
	w, bias := b.w(prefix+".weight"), b.optional(prefix+".bias")
	if b.m.Var(prefix+".lora_A.weight") == nil {
		return nn.Dense(x, w, bias, compute.DenseLayoutOutputsInput, act)
	}
	y := nn.Dense(x, w, bias, compute.DenseLayoutOutputsInput)
	l := b.m.Config.LoRA
	xa := b.dropout(x, l.Dropout)
	delta := nn.Dense(nn.Dense(xa, b.w(prefix+".lora_A.weight"), nil, compute.DenseLayoutOutputsInput),
		b.w(prefix+".lora_B.weight"), nil, compute.DenseLayoutOutputsInput)
	y = graph.Add(y, graph.MulScalar(delta, l.Alpha/float64(l.Rank)))
	return activation.Apply(act, y)
}

func actType(name string) activation.Type {
	switch name {
	case "gelu":
		return activation.TypeGelu
	case "gelu_new", "gelu_pytorch_tanh":
		return activation.TypeGeluApprox
	case "relu":
		return activation.TypeRelu
	}
	return activation.TypeSilu
}

// embedLookup gathers rows of table [vocab, d] for ids [b, l] -> [b, l, d].
func embedLookup(table, ids *graph.Node) *graph.Node {
	return graph.Gather(table, graph.InsertAxes(graph.ConvertDType(ids, dtypes.Int32), -1))
}

func (b *builder) layerNorm(x *graph.Node, prefix string, eps float64) *graph.Node {
	return nn.LayerNorm(x, []int{-1}, eps, b.w(prefix+".weight"), b.w(prefix+".bias"), nil)
}

// rmsNorm is Llama's RMSNorm: w · x / sqrt(mean(x²) + eps).
func (b *builder) rmsNorm(x *graph.Node, name string, eps float64) *graph.Node {
	ms := graph.ReduceAndKeep(graph.Square(x), graph.ReduceMean, -1)
	w := b.w(name)
	dims := make([]int, x.Rank())
	for i := range dims {
		dims[i] = 1
	}
	dims[len(dims)-1] = w.Shape().Dimensions[0]
	w = graph.Reshape(w, dims...)
	// Div by Sqrt rather than Rsqrt: GoMLX v0.28 has no gradient for Rsqrt.
	return graph.Mul(graph.Div(x, graph.Sqrt(graph.AddScalar(ms, eps))), w)
}

// paddingBias is the additive attention bias [batch, 1, 1, q, k]: maskValue
// on padded keys, and on future keys when causal.
func paddingBias(mask *graph.Node, causal bool) *graph.Node {
	g := mask.Graph()
	seq := mask.Shape().Dimensions[1]
	keep := graph.ConvertDType(mask, dtypes.Bool) // [b, k]
	keep = graph.InsertAxes(keep, 1, 1, 1)        // [b, 1, 1, 1, k]
	if causal {
		tri := graph.LowerTriangular(g, seq) // [q, k]: k <= q
		keep = graph.LogicalAnd(keep, graph.InsertAxes(tri, 0, 0, 0))
	}
	zero := graph.ScalarZero(g, dtypes.Float32)
	neg := graph.Scalar(g, dtypes.Float32, maskValue)
	return graph.Where(keep, zero, neg)
}

// attention is multi-head scaled dot-product attention with grouped-query
// heads: q [b, l, heads·hd], k and v [b, l, kvHeads·hd] -> [b, l, heads·hd].
// Query head h uses key/value head h / (heads/kvHeads), as Hugging Face's
// repeat_kv does, without materializing the repeated keys.
func (b *builder) attention(q, k, v, bias *graph.Node, heads, kvHeads, hd int, dropout float64) *graph.Node {
	dims := q.Shape().Dimensions
	batch, seq := dims[0], dims[1]
	group := heads / kvHeads
	q = graph.Reshape(q, batch, seq, kvHeads, group, hd)
	q = graph.TransposeAllAxes(q, 0, 2, 3, 1, 4) // [b, kv, g, l, hd]
	// Keys as [b, kv, hd, l] and values as [b, kv, l, hd]: both products are
	// then in the Go backend's "non-transposed" layout, whose small-matrix
	// kernel is several times faster than the transposed one (dot products
	// with horizontal sums) for these per-head sizes.
	k = graph.TransposeAllAxes(graph.Reshape(k, batch, seq, kvHeads, hd), 0, 2, 3, 1) // [b, kv, hd, l]
	v = graph.TransposeAllAxes(graph.Reshape(v, batch, seq, kvHeads, hd), 0, 2, 1, 3) // [b, kv, l, hd]
	mm := func(x, y *graph.Node) *graph.Node {
		return graph.DotGeneral(x, []int{2}, []int{0}, y, []int{1}, []int{0})
	}
	if b.scope.IsTraining(b.g) {
		mm = batchMatMul
	}
	q = graph.Reshape(q, batch*kvHeads, group*seq, hd)
	k = graph.Reshape(k, batch*kvHeads, hd, seq)
	v = graph.Reshape(v, batch*kvHeads, seq, hd)
	scores := mm(q, k) // [b·kv, g·l, l]
	scores = graph.Reshape(scores, batch, kvHeads, group, seq, seq)
	scores = graph.Add(graph.MulScalar(scores, 1/math.Sqrt(float64(hd))), bias)
	probs := graph.Softmax(scores, -1)
	probs = b.dropout(probs, dropout)
	probs = graph.Reshape(probs, batch*kvHeads, group*seq, seq)
	ctx := mm(probs, v) // [b·kv, g·l, hd]
	ctx = graph.Reshape(ctx, batch, kvHeads, group, seq, hd)
	ctx = graph.TransposeAllAxes(ctx, 0, 3, 1, 2, 4) // [b, l, kv, g, hd]
	return graph.Reshape(ctx, batch, seq, heads*hd)
}

// batchMatMul is x [n, m, k] · y [n, k, n'] -> [n, m, n'] with a hand-made
// gradient. The Go backend multiplies small per-head matrices fast only in
// its "non-transposed" layout (rhs [batch, contracting, cross]); the
// gradients autodiff derives for a DotGeneral land in the transposed layout,
// whose small-matrix kernel (a horizontal sum per output) made attention's
// backward half of a training step. Here both gradients are computed as
// non-transposed products of explicitly transposed operands:
// dx = dOut · yᵀ and dy = xᵀ · dOut.
//
// GoMLX attaches custom gradients only to identity nodes, so x, y and the
// (gradient-free) product are packed into one vector that passes through
// IdentityWithCustomGradient; its gradient function unpacks them.
func batchMatMul(x, y *graph.Node) *graph.Node {
	mm := func(a, b *graph.Node) *graph.Node {
		return graph.DotGeneral(a, []int{2}, []int{0}, b, []int{1}, []int{0})
	}
	tr := func(a *graph.Node) *graph.Node { return graph.TransposeAllAxes(a, 0, 2, 1) }
	xs, ys := x.Shape().Dimensions, y.Shape().Dimensions
	nx, ny := x.Shape().Size(), y.Shape().Size()
	out := mm(graph.StopGradient(x), graph.StopGradient(y))
	outDims := out.Shape().Dimensions
	no := out.Shape().Size()
	packed := graph.Concatenate([]*graph.Node{graph.Reshape(x, nx), graph.Reshape(y, ny), graph.Reshape(out, no)}, 0)
	part := func(v *graph.Node, from, n int, dims []int) *graph.Node {
		return graph.Reshape(graph.Slice(v, graph.AxisRange(from, from+n)), dims...)
	}
	packed = graph.IdentityWithCustomGradient(packed, func(p, v *graph.Node) *graph.Node {
		dOut := part(v, nx+ny, no, outDims)
		px, py := part(p, 0, nx, xs), part(p, nx, ny, ys)
		dx := mm(dOut, tr(py))
		dy := mm(tr(px), dOut)
		return graph.Concatenate([]*graph.Node{graph.Reshape(dx, nx), graph.Reshape(dy, ny), graph.ZerosLike(graph.Reshape(dOut, no))}, 0)
	})
	return part(packed, nx+ny, no, outDims)
}
