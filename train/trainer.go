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

// Scorer computes per-example losses without touching the weights
// (tDRO's frozen reference model).
type Scorer struct {
	backend compute.Backend
	store   *gmodel.Store
	emb     Embedder
	loss    Loss
	lossExe *gmodel.Exec
	embExe  *gmodel.Exec
}

// NewScorer builds a Scorer over the model whose weights live in store.
func NewScorer(backend compute.Backend, store *gmodel.Store, emb Embedder, loss Loss) (*Scorer, error) {
	if v, ok := loss.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	s := &Scorer{backend: backend, store: store, emb: emb, loss: loss}
	var err error
	s.lossExe, err = gmodel.NewExec(backend, store, func(scope *gmodel.Scope, in []*graph.Node) *graph.Node {
		return loss.PerExample(emb.Embed(scope, in[0], in[1]), emb.Embed(scope, in[2], in[3]))
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

// Losses returns the per-example losses of a batch.
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

// Trainer runs optimisation steps of a Loss + AdamW on a model. How the
// gradients are computed is a gradientStrategy: the whole step in one graph,
// or the gradient cache, which bounds memory by a chunk (and is the one
// that lets a caller reweight the batch between forward and backward).
type Trainer struct {
	*Scorer
	cfg    StepConfig
	opt    *AdamW
	direct *direct
	cache  *gradCache
}

// StepConfig is what a Trainer needs besides the model.
type StepConfig struct {
	Loss      Loss // LossConfig: InfoNCE
	Optimizer OptimizerConfig
	// GradCacheChunk > 0 turns on the gradient cache: embeddings are computed
	// this many rows at a time without keeping activations, the loss and its
	// gradients with respect to the embeddings on the full batch, then each
	// chunk is re-encoded and back-propagated on its own. Memory is bounded by
	// the chunk; the cost is one extra forward pass.
	GradCacheChunk int
}

// Reweight sees the per-example losses of a batch before the backward pass
// and returns the loss weights to use (tDRO's alpha step).
type Reweight func(perExample []float32) ([]float32, error)

// gradientStrategy computes one step's gradients of the weighted loss
// sum_i w_i * loss_i and applies the optimizer.
type gradientStrategy interface {
	step(in *Inputs, lr *tensors.Tensor, weights []float32, reweight Reweight) (StepResult, error)
}

// rngStatePath is where GoMLX keeps the store's random state (dropout).
var rngStatePath = gmodel.JoinPath("/", gmodel.RNGStateVariableName)

// NewTrainer builds a Trainer for the trainable variables of store.
func NewTrainer(backend compute.Backend, store *gmodel.Store, emb Embedder, cfg StepConfig) (*Trainer, error) {
	if cfg.GradCacheChunk < 0 {
		return nil, fmt.Errorf("grad_cache_chunk must be >= 0, got %d", cfg.GradCacheChunk)
	}
	if d, ok := cfg.Loss.(interface{ checkDevices(int) error }); ok {
		if err := d.checkDevices(backend.NumDevices()); err != nil {
			return nil, err
		}
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
	if t.direct, err = newDirect(backend, store, emb, cfg.Loss, opt); err != nil {
		return nil, err
	}
	if t.cache, err = newGradCache(backend, store, emb, cfg.Loss, opt, cfg.GradCacheChunk); err != nil {
		return nil, err
	}
	return t, nil
}

// newExec compiles fn over store for any input shapes (cache unbounded).
func newExec(backend compute.Backend, store *gmodel.Store, fn func(scope *gmodel.Scope, in []*graph.Node) []*graph.Node) (*gmodel.Exec, error) {
	e, err := gmodel.NewExec(backend, store, fn)
	if err != nil {
		return nil, err
	}
	e.SetMaxCache(-1)
	return e, nil
}

// training turns dropout on in a training graph; its randomness comes from
// the store's RNG state, which checkpoints keep.
func training(scope *gmodel.Scope, x *graph.Node) { scope.Store().SetTraining(x.Graph(), true) }

// Optimizer returns the trainer's AdamW.
func (t *Trainer) Optimizer() *AdamW { return t.opt }

// Step runs one update. weights are the per-example loss weights (the loss
// is sum_i w_i * loss_i; nil means 1/B each). reweight, when not nil, sees
// the per-example losses of this batch before the backward pass and returns
// the weights to use (tDRO's alpha step); it needs the gradient cache, used
// with the whole batch as one chunk if none is configured.
func (t *Trainer) Step(in *Inputs, lr float64, weights []float32, reweight Reweight) (StepResult, error) {
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
	var strategy gradientStrategy = t.direct
	if t.cfg.GradCacheChunk > 0 || reweight != nil {
		strategy = t.cache
	}
	return strategy.step(in, tensors.FromScalar(float32(lr)), weights, reweight)
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

// direct is the whole step in one graph: forward, loss, backward, update.
type direct struct{ exe *gmodel.Exec }

func newDirect(backend compute.Backend, store *gmodel.Store, emb Embedder, loss Loss, opt *AdamW) (*direct, error) {
	exe, err := newExec(backend, store, func(scope *gmodel.Scope, in []*graph.Node) []*graph.Node {
		training(scope, in[0])
		per := loss.PerExample(emb.Embed(scope, in[0], in[1]), emb.Embed(scope, in[2], in[3]))
		total := graph.ReduceAllSum(graph.Mul(per, in[4]))
		grads := graph.Gradient(total, opt.ParamNodes(total.Graph())...)
		return []*graph.Node{total, per, opt.Update(grads, in[5])}
	})
	return &direct{exe: exe}, err
}

func (d *direct) step(in *Inputs, lr *tensors.Tensor, weights []float32, _ Reweight) (StepResult, error) {
	b := in.Queries.Rows
	qi, qm := in.Queries.rows(0, b)
	pi, pm := in.Passages.rows(0, in.Passages.Rows)
	out, err := d.exe.Call(qi, qm, pi, pm, tensors.FromFlatDataAndDimensions(weights, b), lr)
	if err != nil {
		return StepResult{}, err
	}
	return result(out[0], out[1], out[2])
}
