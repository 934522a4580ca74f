package dro

import (
	"fmt"
	"math"
	"time"

	"github.com/tdro/tdro/train"
)

// TokenizeFunc tokenizes a sampled batch into model inputs.
type TokenizeFunc func(b train.Batch) (*train.Inputs, error)

// Stepper makes one tDRO step on models (train.Loop repeats it): it draws
// a batch that mixes all domains, scores it with the frozen reference model,
// and makes one proxy update during which the domain weights are updated.
//
// Within a step the order is exact and needs one proxy forward pass: the
// proxy's embeddings are computed once (train.Trainer.Step's gradient-cache
// path), its per-example losses go to the host, where the WeightLearner measures
// them against the reference losses and updates alpha; the new alpha gives
// the per-example weights alpha[d_i] / sum_j alpha[d_j], and the backward
// pass and AdamW update use them. This is the order of the official code
// (and DoReMi): weights computed from this batch's losses weight this
// batch's loss.
type Stepper struct {
	Names   []string // domain names, in sampler order
	Learner WeightLearner
	Sampler *train.Sampler
	Proxy   *train.Trainer
	Ref     *train.Scorer
	Encode  TokenizeFunc
	Optim   train.OptimizerConfig
	Steps   int // total steps of the run (for the learning-rate schedule)
	// MicroBatches splits each step's batch for the weight update as
	// gradient accumulation would (see Learner.Step); 0 or 1: one.
	MicroBatches int
}

// StepLog is one line of the JSONL log: the weights after the step, the
// scores that moved them, and per-domain mean proxy and reference losses of
// the batch (domains absent from the batch are left out of the loss maps).
type StepLog struct {
	Step      int                `json:"step"` // 1-based
	LR        float64            `json:"lr"`
	Loss      float64            `json:"loss"` // alpha-weighted proxy loss
	GradNorm  float64            `json:"grad_norm"`
	Alpha     map[string]float64 `json:"alpha"`
	LogAlpha  map[string]float64 `json:"log_alpha"`
	Scores    map[string]float64 `json:"scores"`
	ProxyLoss map[string]float64 `json:"proxy_loss"`
	RefLoss   map[string]float64 `json:"ref_loss"`
	Examples  map[string]int     `json:"examples"`
	Seconds   float64            `json:"step_s"` // wall time of the step
}

// Step runs step i (0-based).
func (l *Stepper) Step(i int) (*StepLog, error) {
	t0 := time.Now()
	batch, err := l.Sampler.Next()
	if err != nil {
		return nil, err
	}
	in, err := l.Encode(batch)
	if err != nil {
		return nil, err
	}
	dom := make([]int, len(batch.Examples))
	for j, ex := range batch.Examples {
		dom[j] = ex.Domain
	}
	ref32, err := l.Ref.Losses(in)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	ref := widen(ref32)
	var scores []float64
	var proxy []float64
	reweight := func(per []float32) ([]float32, error) {
		proxy = widen(per)
		w, sc, err := l.Learner.Step(proxy, ref, dom, max(1, l.MicroBatches))
		if err != nil {
			return nil, err
		}
		scores = sc
		out := make([]float32, len(w))
		for j, v := range w {
			out[j] = float32(v)
		}
		return out, nil
	}
	lr := l.Optim.LearningRateAt(i, l.Steps)
	res, err := l.Proxy.Step(in, lr, nil, reweight)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
		return nil, fmt.Errorf("proxy loss is %v", res.Loss)
	}
	log := &StepLog{Step: i + 1, LR: lr, Loss: res.Loss, GradNorm: res.GradNorm,
		Alpha: map[string]float64{}, LogAlpha: map[string]float64{}, Scores: map[string]float64{},
		ProxyLoss: map[string]float64{}, RefLoss: map[string]float64{}, Examples: map[string]int{}}
	w := l.Learner.Weights()
	for g, name := range l.Names {
		log.Alpha[name] = w.Curr[g]
		log.LogAlpha[name] = w.Log[g]
		log.Scores[name] = scores[g]
	}
	for j, d := range dom {
		name := l.Names[d]
		log.Examples[name]++
		log.ProxyLoss[name] += proxy[j]
		log.RefLoss[name] += ref[j]
	}
	for name, n := range log.Examples {
		log.ProxyLoss[name] /= float64(n)
		log.RefLoss[name] /= float64(n)
	}
	log.Seconds = time.Since(t0).Seconds()
	return log, nil
}

func widen(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
