package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"

	"github.com/tdro/tdro/data"
)

// Mixing strategies of a training run: how the domain of each batch is
// drawn.
const (
	// MixingStatic draws with the mixture's weights throughout ("" too).
	MixingStatic = "static"
	// MixingODM adapts the weights during the run with online data mixing
	// (Albalak et al. 2023): an EXP3 bandit whose arms are the domains and
	// whose reward is the training loss of the batch drawn.
	MixingODM = "odm"
)

// ODMFile, in a run directory, is the bandit's trajectory: one JSON line
// per step with the sampling probabilities after it.
const ODMFile = "odm_weights.jsonl"

// ODM is the EXP3 state of online data mixing, JSON for checkpoints.
//
// After a batch of domain d with loss L, the importance-weighted reward
// estimate of d grows by (L/Scale)/p_d; the exploration rate becomes
// eps_t = min(1/K, sqrt(ln K / (K t))); and the probabilities are
//
//	w_k = (1 - K eps_t) * exp(eps_{t-1} R_k) / sum_j exp(eps_{t-1} R_j) + eps_t,  p = w / sum w
//
// so every domain keeps at least eps_t of the mass.
type ODM struct {
	Probs     []float64 `json:"probs"`      // current sampling probabilities
	CumReward []float64 `json:"cum_reward"` // importance-weighted reward sums R_k
	Eps       float64   `json:"eps"`        // exploration rate of the last update
	Updates   int       `json:"updates"`
	Scale     float64   `json:"scale"` // rewards are loss / Scale
}

// NewODM starts the bandit at the given weights (normalised; all must be
// positive: EXP3 samples every arm) with rewards loss/scale.
func NewODM(start []float64, scale float64) (*ODM, error) {
	if !(scale > 0) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("odm: reward scale must be a finite number > 0, got %v", scale)
	}
	p, err := data.Normalize(start)
	if err != nil {
		return nil, fmt.Errorf("odm: starting weights: %w", err)
	}
	for _, v := range p {
		if v <= 0 {
			return nil, errors.New("odm: every domain needs a positive starting weight (the bandit samples every domain)")
		}
	}
	return &ODM{Probs: p, CumReward: make([]float64, len(p)), Eps: 1 / float64(len(p)), Scale: scale}, nil
}

// Update records the loss of a batch drawn from domain d and returns the
// new probabilities.
func (o *ODM) Update(d int, loss float64) []float64 {
	k := float64(len(o.Probs))
	o.Updates++
	o.CumReward[d] += loss / o.Scale / o.Probs[d]
	prev := o.Eps
	o.Eps = math.Min(1/k, math.Sqrt(math.Log(k)/(k*float64(o.Updates))))
	maxR := math.Inf(-1)
	for _, r := range o.CumReward {
		maxR = math.Max(maxR, r)
	}
	total := 0.0
	for _, r := range o.CumReward {
		total += math.Exp(prev * (r - maxR)) // shifted: the ratios are unchanged and nothing overflows
	}
	sum := 0.0
	for i, r := range o.CumReward {
		o.Probs[i] = (1-k*o.Eps)*math.Exp(prev*(r-maxR))/total + o.Eps
		sum += o.Probs[i]
	}
	for i := range o.Probs {
		o.Probs[i] /= sum
	}
	return append([]float64(nil), o.Probs...)
}

// onlineMixing sets up ODM for a run whose recipe asks for it (nil
// otherwise): the bandit's state rides in the loop's checkpoints, and each
// step's probabilities go to the sampler and to the run's ODMFile.
func onlineMixing(cfg Config, sampler *Sampler, loop *Loop) (*onlineMixer, error) {
	if cfg.Mixing != MixingODM {
		return nil, nil
	}
	bandit, err := NewODM(sampler.Probabilities(), cfg.ODMRewardScale)
	if err != nil {
		return nil, err
	}
	if err := sampler.SetWeights(bandit.Probs); err != nil { // every domain can be drawn
		return nil, fmt.Errorf("odm: %w", err)
	}
	om := &onlineMixer{bandit: bandit, sampler: sampler, path: filepath.Join(cfg.Out, ODMFile)}
	loop.SaveExtra = func() (map[string]json.RawMessage, error) {
		b, err := json.Marshal(om.bandit)
		return map[string]json.RawMessage{MixingODM: b}, err
	}
	loop.RestoreExtra = func(extra map[string]json.RawMessage) error {
		raw, ok := extra[MixingODM]
		if !ok {
			return errors.New("no ODM state (a checkpoint of a static-mixing run?)")
		}
		var saved ODM
		if err := json.Unmarshal(raw, &saved); err != nil {
			return fmt.Errorf("ODM state: %w", err)
		}
		if len(saved.Probs) != len(bandit.Probs) || saved.Scale != bandit.Scale {
			return fmt.Errorf("ODM state for %d domains at scale %v, the run has %d at %v", len(saved.Probs), saved.Scale, len(bandit.Probs), bandit.Scale)
		}
		*om.bandit = saved
		return sampler.SetWeights(saved.Probs)
	}
	return om, nil
}

// onlineMixer applies the bandit after each step.
type onlineMixer struct {
	bandit    *ODM
	sampler   *Sampler
	path      string
	truncated bool
}

// odmLine is one line of ODMFile.
type odmLine struct {
	Step   int                `json:"step"`
	Domain string             `json:"domain"` // the batch's domain, rewarded with its loss
	Loss   float64            `json:"loss"`
	Probs  map[string]float64 `json:"probs"` // after the update: the next batch's distribution
}

func (om *onlineMixer) step(domain int, loss float64, step int) error {
	if domain < 0 {
		return errors.New("odm: a batch without a domain (mixing odm needs task-homogeneous batches)")
	}
	p := om.bandit.Update(domain, loss)
	if err := om.sampler.SetWeights(p); err != nil {
		return err
	}
	line := odmLine{Step: step, Domain: om.sampler.domains[domain].Name, Loss: loss, Probs: map[string]float64{}}
	for i, d := range om.sampler.domains {
		line.Probs[d.Name] = p[i]
	}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	if !om.truncated { // a resumed run drops the lines past its checkpoint
		if err := truncateJSONL(om.path, step-1); err != nil {
			return err
		}
		om.truncated = true
	}
	return appendLine(om.path, b)
}
