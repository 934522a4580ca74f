package train

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"
)

// accScope holds gradient-cache accumulators; checkpoints skip it (it is
// zero between steps).
const accScope = "/gradcache"

// gradCache is the gradient-cache strategy (Gao et al. 2021) around any
// Loss: embed the batch chunk by chunk without keeping activations; take the
// loss and its gradients with respect to the embeddings on the whole batch;
// re-encode each chunk and back-propagate those gradients into accumulators;
// apply the update. Memory is bounded by the chunk, at the cost of one
// extra forward pass. Between the loss and its gradients a Reweight may
// change the example weights, which the one-graph strategy cannot offer.
type gradCache struct {
	store *gmodel.Store
	chunk int // rows per encoder call; 0: the whole batch

	embExe     *gmodel.Exec // training-mode embeddings of a chunk
	lossExe    *gmodel.Exec // per-example loss of the embeddings (for Reweight)
	repGradExe *gmodel.Exec // weighted loss and its gradients w.r.t. the embeddings
	accumExe   *gmodel.Exec // a chunk's parameter gradients into acc
	applyExe   *gmodel.Exec // the optimizer on acc, which it then zeroes
	acc        []*gmodel.Variable
}

func newGradCache(backend compute.Backend, store *gmodel.Store, emb Embedder, loss Loss, opt *AdamW, chunk int) (*gradCache, error) {
	c := &gradCache{store: store, chunk: chunk}
	var err error
	mk := func(fn func(scope *gmodel.Scope, in []*graph.Node) []*graph.Node) *gmodel.Exec {
		if err != nil {
			return nil
		}
		var e *gmodel.Exec
		e, err = newExec(backend, store, fn)
		return e
	}
	c.embExe = mk(func(scope *gmodel.Scope, in []*graph.Node) []*graph.Node {
		training(scope, in[0])
		return []*graph.Node{emb.Embed(scope, in[0], in[1])}
	})
	c.lossExe = mk(func(_ *gmodel.Scope, in []*graph.Node) []*graph.Node {
		return []*graph.Node{loss.PerExample(in[0], in[1])}
	})
	c.repGradExe = mk(func(_ *gmodel.Scope, in []*graph.Node) []*graph.Node {
		q, p, w := in[0], in[1], in[2]
		per := loss.PerExample(q, p)
		total := graph.ReduceAllSum(graph.Mul(per, w))
		grads := graph.Gradient(total, q, p)
		return []*graph.Node{total, per, grads[0], grads[1]}
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
		c.acc = append(c.acc, v)
	}
	c.accumExe = mk(func(scope *gmodel.Scope, in []*graph.Node) []*graph.Node {
		training(scope, in[0])
		e := emb.Embed(scope, in[0], in[1])
		// d(sum(e * de))/dθ is this chunk's share of dLoss/dθ.
		surrogate := graph.ReduceAllSum(graph.Mul(e, graph.StopGradient(in[2])))
		grads := graph.Gradient(surrogate, opt.ParamNodes(e.Graph())...)
		for i, a := range c.acc {
			a.SetNodeValue(graph.Add(a.NodeValue(e.Graph()), grads[i]))
		}
		return []*graph.Node{surrogate}
	})
	c.applyExe = mk(func(_ *gmodel.Scope, in []*graph.Node) []*graph.Node {
		g := in[0].Graph()
		grads := make([]*graph.Node, len(c.acc))
		for i, a := range c.acc {
			grads[i] = a.NodeValue(g)
			a.SetNodeValue(graph.ZerosLike(grads[i]))
		}
		return []*graph.Node{opt.Update(grads, in[0])}
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (c *gradCache) step(in *Inputs, lr *tensors.Tensor, weights []float32, reweight Reweight) (StepResult, error) {
	// The re-encoding in backward must see the same dropout masks as this
	// first pass: remember the RNG state and replay it.
	var rngState *tensors.Tensor
	rngVar := c.store.GetVariable(rngStatePath)
	if rngVar != nil && rngVar.HasValue() {
		v, err := rngVar.Value()
		if err == nil {
			rngState, err = v.LocalClone()
		}
		if err != nil {
			return StepResult{}, fmt.Errorf("snapshot RNG state: %w", err)
		}
	}
	qEmb, dim, err := embedChunks(c.embExe, &in.Queries, c.chunk)
	if err != nil {
		return StepResult{}, err
	}
	pEmb, _, err := embedChunks(c.embExe, &in.Passages, c.chunk)
	if err != nil {
		return StepResult{}, err
	}
	b, n := in.Queries.Rows, in.Passages.Rows
	qT := tensors.FromFlatDataAndDimensions(qEmb, b, dim)
	pT := tensors.FromFlatDataAndDimensions(pEmb, n, dim)
	if reweight != nil {
		// Losses only (no gradients): the weights they lead to are what the
		// one gradient pass below uses.
		out, err := c.lossExe.Call(qT, pT)
		if err != nil {
			return StepResult{}, err
		}
		perEx, err := tensors.CopyFlatData[float32](out[0])
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
	out, err := c.repGradExe.Call(qT, pT, tensors.FromFlatDataAndDimensions(weights, b))
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
	if err := c.backward(&in.Queries, dq, dim); err != nil {
		return StepResult{}, err
	}
	if err := c.backward(&in.Passages, dp, dim); err != nil {
		return StepResult{}, err
	}
	norm, err := c.applyExe.Call(lr)
	if err != nil {
		return StepResult{}, err
	}
	return result(out[0], out[1], norm[0])
}

// backward re-encodes tok chunk by chunk and accumulates the parameter
// gradients given the embeddings' gradients grad [Rows*dim].
func (c *gradCache) backward(tok *Tokens, grad []float32, dim int) error {
	chunk := c.chunk
	if chunk <= 0 {
		chunk = tok.Rows
	}
	for from := 0; from < tok.Rows; from += chunk {
		to := min(from+chunk, tok.Rows)
		ids, mask := tok.rows(from, to)
		g := tensors.FromFlatDataAndDimensions(append([]float32(nil), grad[from*dim:to*dim]...), to-from, dim)
		if _, err := c.accumExe.Call(ids, mask, g); err != nil {
			return err
		}
	}
	return nil
}
