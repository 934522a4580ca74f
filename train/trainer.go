package train

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"
)

// Embedder maps token ids and masks ([B, L] int32) to pooled embeddings
// [B, D] float32. *model.Model satisfies it.
type Embedder interface {
	Embed(scope *gmodel.Scope, ids, mask *graph.Node) *graph.Node
}

// Tokens is a padded batch of token ids, row-major [Rows, Len].
type Tokens struct {
	IDs, Mask []int32
	Rows, Len int
}

// Real counts the unpadded tokens.
func (t *Tokens) Real() int {
	n := 0
	for _, m := range t.Mask {
		n += int(m)
	}
	return n
}

// rows returns rows [from, to) as tensors.
func (t *Tokens) rows(from, to int) (ids, mask *tensors.Tensor) {
	a, b := from*t.Len, to*t.Len
	return tensors.FromFlatDataAndDimensions(append([]int32(nil), t.IDs[a:b]...), to-from, t.Len),
		tensors.FromFlatDataAndDimensions(append([]int32(nil), t.Mask[a:b]...), to-from, t.Len)
}

// Inputs is one tokenized batch: B queries and B groups of G passages (each
// group its query's positive then its hard negatives).
type Inputs struct {
	Queries  Tokens
	Passages Tokens
}

// StepResult reports one optimisation step.
type StepResult struct {
	Loss       float64   // sum_i w_i * loss_i
	PerExample []float32 // unweighted InfoNCE of each example
	GradNorm   float64   // global gradient norm before clipping
}

// Scorer computes per-example InfoNCE losses without touching the weights
// (tDRO's frozen reference model).
type Scorer struct {
	backend compute.Backend
	store   *gmodel.Store
	emb     Embedder
	loss    LossConfig
	lossExe *gmodel.Exec
	embExe  *gmodel.Exec
}

// NewScorer builds a Scorer over the model whose weights live in store.
func NewScorer(backend compute.Backend, store *gmodel.Store, emb Embedder, loss LossConfig) (*Scorer, error) {
	if err := loss.Validate(); err != nil {
		return nil, err
	}
	s := &Scorer{backend: backend, store: store, emb: emb, loss: loss}
	var err error
	s.lossExe, err = gmodel.NewExec(backend, store, func(scope *gmodel.Scope, in []*graph.Node) *graph.Node {
		return InfoNCE(emb.Embed(scope, in[0], in[1]), emb.Embed(scope, in[2], in[3]), loss)
	})
	if err != nil {
		return nil, err
	}
	s.embExe, err = gmodel.NewExec(backend, store, func(scope *gmodel.Scope, ids, mask *graph.Node) *graph.Node {
		return emb.Embed(scope, ids, mask)
	})
	if err != nil {
		return nil, err
	}
	s.lossExe.SetMaxCache(-1)
	s.embExe.SetMaxCache(-1)
	return s, nil
}

// Losses returns the per-example InfoNCE losses of a batch.
func (s *Scorer) Losses(in *Inputs) ([]float32, error) {
	qi, qm := in.Queries.rows(0, in.Queries.Rows)
	pi, pm := in.Passages.rows(0, in.Passages.Rows)
	out, err := s.lossExe.Call(qi, qm, pi, pm)
	if err != nil {
		return nil, err
	}
	return tensors.CopyFlatData[float32](out[0])
}

// Embed returns the embeddings of t's rows (inference mode), computed chunk
// rows at a time (all at once when chunk <= 0), flattened [Rows*D], and D.
func (s *Scorer) Embed(t *Tokens, chunk int) ([]float32, int, error) {
	return embedChunks(s.embExe, t, chunk)
}

func embedChunks(exe *gmodel.Exec, t *Tokens, chunk int) ([]float32, int, error) {
	if chunk <= 0 {
		chunk = t.Rows
	}
	var flat []float32
	dim := 0
	for from := 0; from < t.Rows; from += chunk {
		to := min(from+chunk, t.Rows)
		ids, mask := t.rows(from, to)
		out, err := exe.Call(ids, mask)
		if err != nil {
			return nil, 0, err
		}
		dim = out[0].Shape().Dimensions[1]
		part, err := tensors.CopyFlatData[float32](out[0])
		if err != nil {
			return nil, 0, err
		}
		flat = append(flat, part...)
	}
	return flat, dim, nil
}

// Trainer runs optimisation steps of InfoNCE + AdamW on a model, either in
// one graph or, with a gradient-cache chunk, in bounded memory.
type Trainer struct {
	*Scorer
	cfg StepConfig
	opt *AdamW

	directExe *gmodel.Exec // whole step in one graph
	// gradient cache: loss and representation gradients, then chunk-wise
	// backward into accumulators, then the update.
	trainEmbExe, repGradExe, accumExe, applyExe *gmodel.Exec
	acc                                         []*gmodel.Variable
}

// StepConfig is what a Trainer needs besides the model.
type StepConfig struct {
	Loss      LossConfig
	Optimizer OptimizerConfig
	// GradCacheChunk > 0 turns on the gradient cache: embeddings are computed
	// this many rows at a time without keeping activations, the loss and its
	// gradients with respect to the embeddings on the full batch, then each
	// chunk is re-encoded and back-propagated on its own. Memory is bounded by
	// the chunk; the cost is one extra forward pass.
	GradCacheChunk int
}

// accScope holds gradient-cache accumulators; checkpoints skip it (it is
// zero between steps).
const accScope = "/gradcache"

// rngStatePath is where GoMLX keeps the store's random state (dropout).
var rngStatePath = gmodel.JoinPath("/", gmodel.RNGStateVariableName)

// NewTrainer builds a Trainer for the trainable variables of store.
func NewTrainer(backend compute.Backend, store *gmodel.Store, emb Embedder, cfg StepConfig) (*Trainer, error) {
	if cfg.GradCacheChunk < 0 {
		return nil, fmt.Errorf("grad_cache_chunk must be >= 0, got %d", cfg.GradCacheChunk)
	}
	if err := cfg.Loss.checkDevices(backend.NumDevices()); err != nil {
		return nil, err
	}
	sc, err := NewScorer(backend, store, emb, cfg.Loss)
	if err != nil {
		return nil, err
	}
	opt, err := NewAdamW(store, TrainableVariables(store), cfg.Optimizer)
	if err != nil {
		return nil, err
	}
	t := &Trainer{Scorer: sc, cfg: cfg, opt: opt}
	mk := func(fn func(scope *gmodel.Scope, in []*graph.Node) []*graph.Node) *gmodel.Exec {
		if err != nil {
			return nil
		}
		var e *gmodel.Exec
		e, err = gmodel.NewExec(backend, store, fn)
		if e != nil {
			e.SetMaxCache(-1)
		}
		return e
	}
	// Training graphs turn dropout on; its randomness comes from the store's
	// RNG state, which checkpoints keep.
	training := func(scope *gmodel.Scope, x *graph.Node) { scope.Store().SetTraining(x.Graph(), true) }
	t.directExe = mk(func(scope *gmodel.Scope, in []*graph.Node) []*graph.Node {
		training(scope, in[0])
		per := InfoNCE(emb.Embed(scope, in[0], in[1]), emb.Embed(scope, in[2], in[3]), cfg.Loss)
		loss := graph.ReduceAllSum(graph.Mul(per, in[4]))
		grads := graph.Gradient(loss, opt.ParamNodes(loss.Graph())...)
		return []*graph.Node{loss, per, opt.Update(grads, in[5])}
	})
	t.trainEmbExe = mk(func(scope *gmodel.Scope, in []*graph.Node) []*graph.Node {
		training(scope, in[0])
		return []*graph.Node{emb.Embed(scope, in[0], in[1])}
	})
	t.repGradExe = mk(func(_ *gmodel.Scope, in []*graph.Node) []*graph.Node {
		q, p, w := in[0], in[1], in[2]
		per := InfoNCE(q, p, cfg.Loss)
		loss := graph.ReduceAllSum(graph.Mul(per, w))
		grads := graph.Gradient(loss, q, p)
		return []*graph.Node{loss, per, grads[0], grads[1]}
	})
	for _, p := range opt.Params() {
		if err != nil {
			break
		}
		var v *gmodel.Variable
		if v = store.GetVariable(accScope + p.Path()); v == nil {
			v, err = store.CreateVariable(accScope+p.Path(), tensors.FromShape(p.Shape()))
			if err == nil {
				v.SetTrainable(false)
			}
		}
		t.acc = append(t.acc, v)
	}
	t.accumExe = mk(func(scope *gmodel.Scope, in []*graph.Node) []*graph.Node {
		training(scope, in[0])
		e := emb.Embed(scope, in[0], in[1])
		// d(sum(e * de))/dθ is this chunk's share of dLoss/dθ.
		surrogate := graph.ReduceAllSum(graph.Mul(e, graph.StopGradient(in[2])))
		grads := graph.Gradient(surrogate, opt.ParamNodes(e.Graph())...)
		for i, a := range t.acc {
			a.SetNodeValue(graph.Add(a.NodeValue(e.Graph()), grads[i]))
		}
		return []*graph.Node{surrogate}
	})
	t.applyExe = mk(func(_ *gmodel.Scope, in []*graph.Node) []*graph.Node {
		g := in[0].Graph()
		grads := make([]*graph.Node, len(t.acc))
		for i, a := range t.acc {
			grads[i] = a.NodeValue(g)
			a.SetNodeValue(graph.ZerosLike(grads[i]))
		}
		return []*graph.Node{opt.Update(grads, in[0])}
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Optimizer returns the trainer's AdamW.
func (t *Trainer) Optimizer() *AdamW { return t.opt }

// Step runs one update. weights are the per-example loss weights (the loss
// is sum_i w_i * loss_i; nil means 1/B each). reweight, when not nil, sees
// the per-example losses of this batch before the backward pass and returns
// the weights to use (tDRO's alpha step); it forces the gradient-cache path,
// with the whole batch as one chunk if none is configured.
func (t *Trainer) Step(in *Inputs, lr float64, weights []float32, reweight func(perExample []float32) ([]float32, error)) (StepResult, error) {
	b := in.Queries.Rows
	if b == 0 || in.Passages.Rows%b != 0 {
		return StepResult{}, fmt.Errorf("step: %d queries and %d passages", b, in.Passages.Rows)
	}
	if weights == nil {
		weights = make([]float32, b)
		for i := range weights {
			weights[i] = 1 / float32(b)
		}
	}
	if len(weights) != b {
		return StepResult{}, fmt.Errorf("step: %d weights for %d examples", len(weights), b)
	}
	lrT := tensors.FromScalar(float32(lr))
	if t.cfg.GradCacheChunk == 0 && reweight == nil {
		qi, qm := in.Queries.rows(0, b)
		pi, pm := in.Passages.rows(0, in.Passages.Rows)
		out, err := t.directExe.Call(qi, qm, pi, pm, tensors.FromFlatDataAndDimensions(weights, b), lrT)
		if err != nil {
			return StepResult{}, err
		}
		return result(out[0], out[1], out[2])
	}
	return t.cachedStep(in, lrT, weights, reweight)
}

func result(loss, per, norm *tensors.Tensor) (StepResult, error) {
	perEx, err := tensors.CopyFlatData[float32](per)
	if err != nil {
		return StepResult{}, err
	}
	return StepResult{
		Loss:       float64(tensors.ToScalar[float32](loss)),
		PerExample: perEx,
		GradNorm:   float64(tensors.ToScalar[float32](norm)),
	}, nil
}

// cachedStep is the gradient-cache step (Gao et al. 2021).
func (t *Trainer) cachedStep(in *Inputs, lr *tensors.Tensor, weights []float32, reweight func([]float32) ([]float32, error)) (StepResult, error) {
	chunk := t.cfg.GradCacheChunk
	// The re-encoding in backward must see the same dropout masks as this
	// first pass: remember the RNG state and replay it.
	var rngState *tensors.Tensor
	rngVar := t.store.GetVariable(rngStatePath)
	if rngVar != nil && rngVar.HasValue() {
		v, err := rngVar.Value()
		if err == nil {
			rngState, err = v.LocalClone()
		}
		if err != nil {
			return StepResult{}, fmt.Errorf("snapshot RNG state: %w", err)
		}
	}
	qEmb, dim, err := embedChunks(t.trainEmbExe, &in.Queries, chunk)
	if err != nil {
		return StepResult{}, err
	}
	pEmb, _, err := embedChunks(t.trainEmbExe, &in.Passages, chunk)
	if err != nil {
		return StepResult{}, err
	}
	b, n := in.Queries.Rows, in.Passages.Rows
	qT := tensors.FromFlatDataAndDimensions(qEmb, b, dim)
	pT := tensors.FromFlatDataAndDimensions(pEmb, n, dim)
	if reweight != nil {
		per, err := t.repGradExe.Call(qT, pT, tensors.FromFlatDataAndDimensions(weights, b))
		if err != nil {
			return StepResult{}, err
		}
		perEx, err := tensors.CopyFlatData[float32](per[1])
		if err != nil {
			return StepResult{}, err
		}
		if weights, err = reweight(perEx); err != nil {
			return StepResult{}, err
		}
		if len(weights) != b {
			return StepResult{}, fmt.Errorf("step: reweight returned %d weights for %d examples", len(weights), b)
		}
	}
	out, err := t.repGradExe.Call(qT, pT, tensors.FromFlatDataAndDimensions(weights, b))
	if err != nil {
		return StepResult{}, err
	}
	dq, err := tensors.CopyFlatData[float32](out[2])
	if err != nil {
		return StepResult{}, err
	}
	dp, err := tensors.CopyFlatData[float32](out[3])
	if err != nil {
		return StepResult{}, err
	}
	if rngState != nil {
		if err := rngVar.SetValue(rngState); err != nil {
			return StepResult{}, err
		}
	}
	if err := t.backward(&in.Queries, dq, dim, chunk); err != nil {
		return StepResult{}, err
	}
	if err := t.backward(&in.Passages, dp, dim, chunk); err != nil {
		return StepResult{}, err
	}
	norm, err := t.applyExe.Call(lr)
	if err != nil {
		return StepResult{}, err
	}
	return result(out[0], out[1], norm[0])
}

// backward re-encodes tok chunk by chunk and accumulates the parameter
// gradients given the embeddings' gradients grad [Rows*dim].
func (t *Trainer) backward(tok *Tokens, grad []float32, dim, chunk int) error {
	if chunk <= 0 {
		chunk = tok.Rows
	}
	for from := 0; from < tok.Rows; from += chunk {
		to := min(from+chunk, tok.Rows)
		ids, mask := tok.rows(from, to)
		g := tensors.FromFlatDataAndDimensions(append([]float32(nil), grad[from*dim:to*dim]...), to-from, dim)
		if _, err := t.accumExe.Call(ids, mask, g); err != nil {
			return err
		}
	}
	return nil
}
