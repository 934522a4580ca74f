package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/tdro/tdro/internal/standin"
	"github.com/tdro/tdro/model"
	"github.com/tdro/tdro/tokenize"
)

// TestGradCacheGradientsEqualDirect compares the gradient cache's
// accumulated parameter gradients with autodiff through the whole batch, on
// the stand-in embedder under three loss settings and on real transformers
// (a BERT encoder with mean pooling and a Qwen2 decoder with last-token
// pooling, dropout off so that both computations see the same network).
func TestGradCacheGradientsEqualDirect(t *testing.T) {
	testBackend(t)
	for _, loss := range []Loss{
		LossConfig{Temperature: 0.05, Similarity: Cosine},
		LossConfig{Temperature: 0.02, Similarity: Cosine, HardNegativesOnly: true},
		LossConfig{Temperature: 1, Similarity: Dot},
		marginLoss{}, // not InfoNCE: the cache wraps any Loss
	} {
		emb, store := standin.NewBag(t, 50, 8, 3)
		checkGradCache(t, "bag", emb, store, loss, 50)
	}
	tok, err := tokenize.Load(tokenizerPath(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, mc := range []model.Config{
		{ModelType: "bert", VocabSize: tok.VocabSize(), HiddenSize: 32, NumLayers: 2, NumHeads: 4, IntermediateSize: 64,
			MaxPositions: 64, TypeVocabSize: 2, HiddenAct: "gelu", LayerNormEps: 1e-12, Pooling: model.PoolMean, Normalize: true},
		{ModelType: "qwen2", VocabSize: tok.VocabSize(), HiddenSize: 32, NumLayers: 2, NumHeads: 4, NumKVHeads: 2, IntermediateSize: 64,
			MaxPositions: 64, HiddenAct: "silu", RMSNormEps: 1e-6, RopeTheta: 10000, Pooling: model.PoolLast, Normalize: true},
	} {
		m, err := model.New(&mc, tok, 3)
		if err != nil {
			t.Fatal(err)
		}
		checkGradCache(t, mc.ModelType, m, m.Store, LossConfig{Temperature: 0.05, Similarity: Cosine}, 1000)
	}
}

// marginLoss is a Loss other than InfoNCE: the squared distance of each
// query to its positive minus the mean to its hard negatives.
type marginLoss struct{}

func (marginLoss) PerExample(q, p *graph.Node) *graph.Node {
	b, d := q.Shape().Dimensions[0], q.Shape().Dimensions[1]
	group := p.Shape().Dimensions[0] / b
	diff := graph.Sub(graph.Reshape(p, b, group, d), graph.ExpandAxes(q, 1))
	dist := graph.ReduceSum(graph.Square(diff), -1) // [B, G]
	pos := graph.Squeeze(graph.Slice(dist, graph.AxisRange(), graph.AxisElem(0)), 1)
	neg := graph.ReduceMean(graph.Slice(dist, graph.AxisRange(), graph.AxisRange(1, group)), -1)
	return graph.Sub(pos, neg)
}

// checkGradCache runs one batch of 8 queries with groups of 3 passages
// through the gradient cache (chunks of 3) and through direct autodiff and
// requires every parameter gradient to agree within 1e-5.
func checkGradCache(t *testing.T, name string, emb Embedder, store *gmodel.Store, loss Loss, vocab int) {
	t.Helper()
	tr, err := NewTrainer(testBackendOf(t), store, emb, StepConfig{Loss: loss, Optimizer: DefaultOptimizer(), GradCacheChunk: 3})
	if err != nil {
		t.Fatal(err)
	}
	in := randomInputs(rand.New(rand.NewPCG(5, 5)), vocab, 8, 3, 6, 9)
	w := make([]float32, 8)
	for i := range w {
		w[i] = float32(i+1) / 36 // unequal weights exercise the weighting too
	}
	// Direct gradients.
	direct := gmodel.MustNewExec(testBackendOf(t), store, func(scope *gmodel.Scope, in []*graph.Node) []*graph.Node {
		per := loss.PerExample(emb.Embed(scope, in[0], in[1]), emb.Embed(scope, in[2], in[3]))
		l := graph.ReduceAllSum(graph.Mul(per, in[4]))
		return graph.Gradient(l, tr.opt.ParamNodes(l.Graph())...)
	})
	qi, qm := in.Queries.rows(0, 8)
	pi, pm := in.Passages.rows(0, 24)
	want, err := direct.Call(qi, qm, pi, pm, tensors.FromFlatDataAndDimensions(w, 8))
	if err != nil {
		t.Fatal(err)
	}
	// Gradient cache, stopping before the update.
	qe, dim, _ := tr.Embed(&in.Queries, 3)
	pe, _, _ := tr.Embed(&in.Passages, 3)
	out, err := tr.cache.repGradExe.Call(tensors.FromFlatDataAndDimensions(qe, 8, dim), tensors.FromFlatDataAndDimensions(pe, 24, dim),
		tensors.FromFlatDataAndDimensions(w, 8))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.cache.backward(&in.Queries, tensors.MustCopyFlatData[float32](out[2]), dim); err != nil {
		t.Fatal(err)
	}
	if err := tr.cache.backward(&in.Passages, tensors.MustCopyFlatData[float32](out[3]), dim); err != nil {
		t.Fatal(err)
	}
	nonzero := 0
	for i, a := range tr.cache.acc {
		got := tensors.MustCopyFlatData[float32](a.MustValue())
		ref := tensors.MustCopyFlatData[float32](want[i])
		maxDiff, maxRef := 0.0, 0.0
		for j := range ref {
			maxDiff = math.Max(maxDiff, math.Abs(float64(got[j]-ref[j])))
			maxRef = math.Max(maxRef, math.Abs(float64(ref[j])))
		}
		if maxDiff > 1e-5 {
			t.Errorf("%s %+v: %s: max |grad cache - direct| = %g (max |direct| %g)", name, loss, a.Path(), maxDiff, maxRef)
		}
		if maxRef > 0 {
			nonzero++
		}
	}
	if nonzero < len(tr.cache.acc)*3/4 {
		t.Errorf("%s: only %d of %d parameter gradients are non-zero: the comparison tests little", name, nonzero, len(tr.cache.acc))
	}
}

// TestGradCacheStepEqualsDirectStep runs whole steps both ways from the same
// start and compares the weights.
func TestGradCacheStepEqualsDirectStep(t *testing.T) {
	testBackend(t)
	loss := LossConfig{Temperature: 0.05}
	var final [2][][]float32
	for k, chunk := range []int{0, 2} {
		emb, store := standin.NewBag(t, 40, 8, 11)
		tr, err := NewTrainer(testBackendOf(t), store, emb, StepConfig{Loss: loss, Optimizer: DefaultOptimizer(), GradCacheChunk: chunk})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(8, 8))
		for step := 0; step < 3; step++ {
			if _, err := tr.Step(randomInputs(rng, 40, 6, 2, 5, 7), 1e-2, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range tr.opt.Params() {
			final[k] = append(final[k], tensors.MustCopyFlatData[float32](p.MustValue()))
		}
	}
	for i := range final[0] {
		for j := range final[0][i] {
			if d := math.Abs(float64(final[0][i][j] - final[1][i][j])); d > 1e-5 {
				t.Fatalf("param %d[%d]: direct %v, grad cache %v", i, j, final[0][i][j], final[1][i][j])
			}
		}
	}
}

// TestGradCacheReplaysDropout: with dropout on, re-encoding after restoring
// the RNG state gives the same embeddings (what the gradient cache's backward
// pass relies on), and without restoring it does not.
func TestGradCacheReplaysDropout(t *testing.T) {
	m, err := BuildModel("tiny-bert", tokenizerPath(t), nil, 1) // hidden dropout 0.1
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Store.SetRNGStateFromSeed(7); err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(testBackendOf(t), m.Store, m, StepConfig{Loss: LossConfig{Temperature: 0.05}, Optimizer: DefaultOptimizer(), GradCacheChunk: 2})
	if err != nil {
		t.Fatal(err)
	}
	in := randomInputs(rand.New(rand.NewPCG(1, 1)), 1000, 4, 1, 8, 8)
	rng := m.Store.GetVariable(rngStatePath)
	saved, err := rng.MustValue().LocalClone()
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := embedChunks(tr.cache.embExe, &in.Queries, 2)
	if err != nil {
		t.Fatal(err)
	}
	second, _, _ := embedChunks(tr.cache.embExe, &in.Queries, 2)
	if err := rng.SetValue(saved); err != nil {
		t.Fatal(err)
	}
	replay, _, _ := embedChunks(tr.cache.embExe, &in.Queries, 2)
	same := func(a, b []float32) bool {
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	if same(first, second) {
		t.Fatal("dropout is not active in training graphs")
	}
	if !same(first, replay) {
		t.Fatal("restoring the RNG state does not replay the dropout masks")
	}
}

// TestStepReweight: the reweight hook sees this batch's per-example losses
// before the update, and the optimised loss uses the weights it returns.
func TestStepReweight(t *testing.T) {
	for _, chunk := range []int{0, 3} {
		emb, store := standin.NewBag(t, 40, 8, 5)
		tr, err := NewTrainer(testBackendOf(t), store, emb, StepConfig{Loss: LossConfig{Temperature: 0.1, HardNegativesOnly: true}, Optimizer: DefaultOptimizer(), GradCacheChunk: chunk})
		if err != nil {
			t.Fatal(err)
		}
		in := randomInputs(rand.New(rand.NewPCG(2, 2)), 40, 6, 3, 5, 5)
		want, err := tr.Losses(in) // before the update; Losses runs in inference mode, as does the bag
		if err != nil {
			t.Fatal(err)
		}
		var seen, weights []float32
		r, err := tr.Step(in, 1e-3, nil, func(per []float32) ([]float32, error) {
			seen = append([]float32(nil), per...)
			weights = []float32{0.5, 0.1, 0.1, 0.1, 0.1, 0.1}
			return weights, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for i := range want {
			if math.Abs(float64(seen[i]-want[i])) > 1e-5 {
				t.Fatalf("chunk %d: reweight saw loss[%d] = %v, want %v", chunk, i, seen[i], want[i])
			}
			sum += float64(weights[i] * want[i])
		}
		if math.Abs(r.Loss-sum) > 1e-5 {
			t.Fatalf("chunk %d: step loss %v, want sum w_i loss_i = %v", chunk, r.Loss, sum)
		}
	}
}
