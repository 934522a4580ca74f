package train

import (
	"fmt"
	"math"
	"sort"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"
)

// Learning-rate decay after warmup.
const (
	DecayCosine   = "cosine"
	DecayLinear   = "linear"
	DecayConstant = "constant"
)

// OptimizerConfig configures AdamW, its schedule and gradient clipping.
type OptimizerConfig struct {
	LearningRate float64 `json:"learning_rate" help:"peak learning rate"`
	WarmupSteps  int     `json:"warmup_steps" help:"linear warmup steps from 0"`
	Decay        string  `json:"decay" help:"learning-rate decay after warmup: cosine, linear or constant"`
	MinLRRatio   float64 `json:"min_lr_ratio" help:"final learning rate / peak"`
	WeightDecay  float64 `json:"weight_decay" help:"AdamW decoupled weight decay (never on biases and norm scales)"`
	Beta1        float64 `json:"beta1" help:"AdamW beta1"`
	Beta2        float64 `json:"beta2" help:"AdamW beta2"`
	Epsilon      float64 `json:"epsilon" help:"AdamW epsilon"`
	ClipNorm     float64 `json:"clip_norm" help:"global gradient L2 norm limit (0: off)"`
}

// DefaultOptimizer is the LLM-DR recipe's AdamW.
func DefaultOptimizer() OptimizerConfig {
	return OptimizerConfig{LearningRate: 1e-4, WarmupSteps: 0, Decay: DecayCosine, MinLRRatio: 0.1,
		WeightDecay: 0.01, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, ClipNorm: 1}
}

// Validate reports settings AdamW cannot use.
func (c OptimizerConfig) Validate() error {
	switch {
	case !(c.LearningRate > 0):
		return fmt.Errorf("learning_rate must be > 0, got %v", c.LearningRate)
	case c.WarmupSteps < 0:
		return fmt.Errorf("warmup_steps must be >= 0, got %d", c.WarmupSteps)
	case c.MinLRRatio < 0 || c.MinLRRatio > 1:
		return fmt.Errorf("min_lr_ratio must be in [0,1], got %v", c.MinLRRatio)
	case c.WeightDecay < 0:
		return fmt.Errorf("weight_decay must be >= 0, got %v", c.WeightDecay)
	case c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("beta1 and beta2 must be in [0,1), got %v and %v", c.Beta1, c.Beta2)
	case !(c.Epsilon > 0):
		return fmt.Errorf("epsilon must be > 0, got %v", c.Epsilon)
	case c.ClipNorm < 0:
		return fmt.Errorf("clip_norm must be >= 0, got %v", c.ClipNorm)
	}
	switch c.Decay {
	case "", DecayCosine, DecayLinear, DecayConstant:
	default:
		return fmt.Errorf("decay must be %q, %q or %q, got %q", DecayCosine, DecayLinear, DecayConstant, c.Decay)
	}
	return nil
}

// LearningRateAt is the learning rate of update number step (0-based) out of
// total: linear warmup over WarmupSteps, then decay to LearningRate*MinLRRatio
// at the last step.
func (c OptimizerConfig) LearningRateAt(step, total int) float64 {
	if step < c.WarmupSteps {
		return c.LearningRate * float64(step+1) / float64(c.WarmupSteps)
	}
	span := total - c.WarmupSteps - 1
	if span <= 0 || c.Decay == DecayConstant {
		return c.LearningRate
	}
	progress := math.Min(1, float64(step-c.WarmupSteps)/float64(span))
	factor := 1 - progress // linear
	if c.Decay != DecayLinear {
		factor = 0.5 * (1 + math.Cos(math.Pi*progress))
	}
	return c.LearningRate * (c.MinLRRatio + (1-c.MinLRRatio)*factor)
}

// AdamW updates a fixed list of parameters with decoupled weight decay
// (skipped for rank < 2 parameters: biases and norm scales, as in the BERT
// and LLM-DR recipes) after clipping the global gradient norm. GoMLX's Adam
// decays every variable, hence this one. Its moments and step count are
// store variables under /optimizer, so checkpoints of the store hold them.
type AdamW struct {
	cfg    OptimizerConfig
	params []*gmodel.Variable
	m, v   []*gmodel.Variable
	step   *gmodel.Variable
}

// TrainableVariables returns the store's trainable variables sorted by path,
// the order gradients are given in.
func TrainableVariables(store *gmodel.Store) []*gmodel.Variable {
	var vars []*gmodel.Variable
	for v := range store.IterVariables() {
		if v.Trainable {
			vars = append(vars, v)
		}
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Path() < vars[j].Path() })
	return vars
}

// optimizerScope holds the optimizer state in the store.
const optimizerScope = "/optimizer"

// NewAdamW creates (or reuses) the optimizer state for params in store.
func NewAdamW(store *gmodel.Store, params []*gmodel.Variable, cfg OptimizerConfig) (*AdamW, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(params) == 0 {
		return nil, fmt.Errorf("optimizer: no trainable variables")
	}
	o := &AdamW{cfg: cfg, params: params}
	state := func(path string, like *gmodel.Variable) (*gmodel.Variable, error) {
		if v := store.GetVariable(path); v != nil {
			if !v.Shape().Equal(like.Shape()) {
				return nil, fmt.Errorf("optimizer state %s has shape %s, want %s", path, v.Shape(), like.Shape())
			}
			return v, nil
		}
		v, err := store.CreateVariable(path, tensors.FromShape(like.Shape()))
		if err != nil {
			return nil, err
		}
		return v.SetTrainable(false), nil
	}
	for _, p := range params {
		m, err := state(optimizerScope+"/m"+p.Path(), p)
		if err != nil {
			return nil, err
		}
		v, err := state(optimizerScope+"/v"+p.Path(), p)
		if err != nil {
			return nil, err
		}
		o.m, o.v = append(o.m, m), append(o.v, v)
	}
	if o.step = store.GetVariable(optimizerScope + "/step"); o.step == nil {
		s, err := store.CreateVariable(optimizerScope+"/step", tensors.FromValue(float32(0)))
		if err != nil {
			return nil, err
		}
		o.step = s.SetTrainable(false)
	}
	return o, nil
}

// Params are the variables AdamW updates, in gradient order.
func (o *AdamW) Params() []*gmodel.Variable { return o.params }

// ParamNodes returns the parameters' values in g, to differentiate against.
func (o *AdamW) ParamNodes(g *graph.Graph) []*graph.Node {
	nodes := make([]*graph.Node, len(o.params))
	for i, p := range o.params {
		nodes[i] = p.NodeValue(g)
	}
	return nodes
}

// Update builds one AdamW step in g from grads (in Params order) and the
// learning rate lr (a scalar graph input, so schedules never recompile). It
// returns the global gradient norm before clipping.
//
// The clipping factor and the bias corrections are folded into scalars, so
// each parameter costs a dozen elementwise passes: on the CPU backend the
// optimizer is memory-bound over the embedding table.
func (o *AdamW) Update(grads []*graph.Node, lr *graph.Node) *graph.Node {
	if len(grads) != len(o.params) {
		panic(fmt.Sprintf("AdamW.Update: %d gradients for %d parameters", len(grads), len(o.params)))
	}
	g := lr.Graph()
	dt := lr.DType()
	scalar := func(v float64) *graph.Node { return graph.Scalar(g, dt, v) }
	squares := make([]*graph.Node, len(grads))
	var sumSq *graph.Node
	for i, gr := range grads {
		squares[i] = graph.Square(gr)
		if s := graph.ReduceAllSum(squares[i]); sumSq == nil {
			sumSq = s
		} else {
			sumSq = graph.Add(sumSq, s)
		}
	}
	norm := graph.Sqrt(sumSq)
	clip := scalar(1)
	if o.cfg.ClipNorm > 0 {
		// min(1, max_norm / (norm + 1e-6)), as torch.nn.utils.clip_grad_norm_.
		clip = graph.MinScalar(graph.Div(scalar(o.cfg.ClipNorm), graph.AddScalar(norm, 1e-6)), 1.0)
	}
	step := graph.AddScalar(o.step.NodeValue(g), 1)
	o.step.SetNodeValue(step)
	b1, b2 := o.cfg.Beta1, o.cfg.Beta2
	bias1 := graph.OneMinus(graph.Pow(scalar(b1), step))
	bias2 := graph.OneMinus(graph.Pow(scalar(b2), step))
	c1 := graph.MulScalar(clip, 1-b1)               // m <- b1 m + (1-b1) clip g
	c2 := graph.MulScalar(graph.Square(clip), 1-b2) // v <- b2 v + (1-b2) clip^2 g^2
	// update = (m/bias1) / (sqrt(v/bias2) + eps) = m / (sqrt(v) + eps·sqrt(bias2)) · lr·sqrt(bias2)/bias1:
	// one pass fewer per parameter than dividing v.
	sqrtBias2 := graph.Sqrt(bias2)
	epsHat := graph.MulScalar(sqrtBias2, o.cfg.Epsilon)
	stepSize := graph.Div(graph.Mul(lr, sqrtBias2), bias1)
	decay := graph.OneMinus(graph.MulScalar(lr, o.cfg.WeightDecay)) // decoupled: p <- p (1 - lr wd)
	for i, p := range o.params {
		// Scalars always on the right: the Go backend has a fast path for a
		// scalar rhs only.
		m := graph.Add(graph.MulScalar(o.m[i].NodeValue(g), b1), graph.Mul(grads[i], c1))
		v := graph.Add(graph.MulScalar(o.v[i].NodeValue(g), b2), graph.Mul(squares[i], c2))
		o.m[i].SetNodeValue(m)
		o.v[i].SetNodeValue(v)
		denom := graph.Add(graph.Sqrt(v), epsHat)
		update := graph.Mul(graph.Div(m, denom), stepSize)
		value := p.NodeValue(g)
		if o.cfg.WeightDecay > 0 && p.Shape().Rank() >= 2 {
			value = graph.Mul(value, decay)
		}
		p.SetNodeValue(graph.Sub(value, update))
	}
	return norm
}
