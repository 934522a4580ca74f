package dro

import (
	"errors"
	"fmt"
	"math"

	"github.com/tdro/tdro/data"
)

// Absent is the policy for a domain with no example in a micro-batch.
type Absent string

const (
	// AbsentZero scores an absent domain 0 (official tDRO code).
	AbsentZero Absent = "zero"
	// AbsentKeep gives an absent domain its previous score (DoReMi).
	AbsentKeep Absent = "keep"
)

// Init says where alpha starts.
type Init string

const (
	// InitUniform starts every domain at 1/k (tdro's default).
	InitUniform Init = "uniform"
	// InitMixture starts from the mixture's weights, normalised, as the
	// official GroupWeights does with the sampler's configured probabilities.
	InitMixture Init = "mixture"
)

// Defaults of the weight update (official tDRO code).
const (
	DefaultEta      = 0.02
	DefaultEMADecay = 0.1
)

// alphaFloor is the smallest weight a domain keeps: exponentiated-gradient
// steps can drive a weight below what float64 represents, and log(0) = -Inf
// would make the state unsaveable (JSON has no -Inf) and a micro-batch of
// such domains weightless. A floored domain stays representable and can
// recover; at 1e-300 the floor never changes a weight sum.
const alphaFloor = 1e-300

// clipEpsilon is torch.nn.utils.clip_grad_norm_'s: the official update
// scales the step by min(1, max_norm / (norm + 1e-6)), max_norm 1.
const clipEpsilon = 1e-6

// UpdateConfig configures the domain-weight update.
type UpdateConfig struct {
	Measure   Measure `json:"measure" help:"domain score: relative, relative-official, excess or raw"`
	Absent    Absent  `json:"absent" help:"score of a domain absent from a batch: zero (official) or keep (DoReMi)"`
	Eta       float64 `json:"eta" help:"weight step size (exponentiated gradient)"`
	Smoothing float64 `json:"smoothing" help:"eps in alpha <- (1-eps) alpha + eps/k"`
	EMA       float64 `json:"ema" help:"weight of the newest alpha in the EMA"`
	Init      Init    `json:"init" help:"where alpha starts: uniform or mixture (the mixture's weights, as the official sampler's probabilities)"`
}

// WithDefaults fills zero fields with the defaults.
func (c UpdateConfig) WithDefaults() UpdateConfig {
	if c.Measure == "" {
		c.Measure = Relative
	}
	if c.Absent == "" {
		c.Absent = AbsentZero
	}
	if c.Eta == 0 {
		c.Eta = DefaultEta
	}
	if c.EMA == 0 {
		c.EMA = DefaultEMADecay
	}
	if c.Init == "" {
		c.Init = InitUniform
	}
	return c
}

// Validate checks the ranges of c (after WithDefaults).
func (c UpdateConfig) Validate() error {
	if err := c.Measure.Validate(); err != nil {
		return fmt.Errorf("measure: %w", err)
	}
	switch {
	case c.Absent != AbsentZero && c.Absent != AbsentKeep:
		return fmt.Errorf("absent: unknown policy %q (want %q or %q)", c.Absent, AbsentZero, AbsentKeep)
	case !(c.Eta > 0) || math.IsInf(c.Eta, 0):
		return fmt.Errorf("eta: must be a finite number > 0, got %v", c.Eta)
	case !(c.Smoothing >= 0 && c.Smoothing < 1):
		return fmt.Errorf("smoothing: must be in [0,1), got %v", c.Smoothing)
	case !(c.EMA > 0 && c.EMA <= 1):
		return fmt.Errorf("ema: must be in (0,1], got %v", c.EMA)
	case c.Init != InitUniform && c.Init != InitMixture:
		return fmt.Errorf("init: unknown start %q (want %q or %q)", c.Init, InitUniform, InitMixture)
	}
	return nil
}

// Learner holds the domain weights alpha and everything needed to continue
// learning them; it is JSON-serialisable so that checkpoints resume exactly.
//
// One optimizer step is any number of Observe calls (one per gradient
// accumulation micro-batch; their scores are averaged, as the official
// trainer divides the accumulated gradient by the number of micro-batches)
// followed by one Update.
type Learner struct {
	Config   UpdateConfig `json:"config"`
	Steps    int          `json:"steps"`     // updates done
	LogAlpha []float64    `json:"log_alpha"` // log of Alpha (kept normalised)
	Alpha    []float64    `json:"alpha"`     // current weights, sum 1
	Mean     []float64    `json:"mean"`      // running mean of Alpha over updates
	EMA      []float64    `json:"ema"`       // exponential moving average of Alpha
	Last     []float64    `json:"last"`      // latest score of each domain (AbsentKeep)
	Pending  []float64    `json:"pending"`   // scores summed since the last Update
	Observed int          `json:"observed"`  // micro-batches in Pending
	// Unclipped drops the norm clip of the step (DoReMi's update has none).
	Unclipped bool `json:"unclipped,omitempty"`
}

// NewLearner starts k domains at uniform weights.
func NewLearner(k int, cfg UpdateConfig) (*Learner, error) {
	if k <= 0 {
		return nil, errors.New("dro: no domains")
	}
	start := make([]float64, k)
	for g := range start {
		start[g] = 1
	}
	return NewLearnerAt(start, cfg)
}

// NewLearnerAt starts at the given non-negative weights, normalised to sum
// 1 (init "mixture": the mixture's weights).
func NewLearnerAt(start []float64, cfg UpdateConfig) (*Learner, error) {
	k := len(start)
	if k == 0 {
		return nil, errors.New("dro: no domains")
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dro: %w", err)
	}
	p, err := data.Normalize(start)
	if err != nil {
		return nil, fmt.Errorf("dro: starting weights: %w", err)
	}
	l := &Learner{Config: cfg, LogAlpha: make([]float64, k), Alpha: make([]float64, k),
		Mean: make([]float64, k), EMA: make([]float64, k), Last: make([]float64, k), Pending: make([]float64, k)}
	for g := range k {
		l.Alpha[g] = math.Max(p[g], alphaFloor)
		l.LogAlpha[g] = math.Log(l.Alpha[g])
		l.Mean[g] = l.Alpha[g]
		l.EMA[g] = l.Alpha[g]
	}
	return l, nil
}

// K is the number of domains.
func (l *Learner) K() int { return len(l.Alpha) }

// Observe scores one micro-batch (see Measure.Scores), applies the absent
// policy and adds the scores to the pending sum (Update divides it by the
// number of micro-batches observed). It returns the micro-batch scores
// after the policy.
func (l *Learner) Observe(proxy, ref []float64, domain []int) ([]float64, error) {
	scores, present, err := l.Config.Measure.Scores(proxy, ref, domain, l.K())
	if err != nil {
		return nil, err
	}
	for g := range scores {
		switch {
		case present[g]:
			l.Last[g] = scores[g]
		case l.Config.Absent == AbsentKeep:
			scores[g] = l.Last[g]
		}
		l.Pending[g] += scores[g]
	}
	l.Observed++
	return scores, nil
}

// Update applies one exponentiated-gradient step with the mean M of the
// pending micro-batch scores (the official trainer's accumulated gradient
// divided by gradient_accumulation_steps):
//
//	log alpha <- log alpha + eta * M * min(1, 1/(||M||_2 + 1e-6))
//	alpha     <- softmax(log alpha);  alpha <- (1-eps) alpha + eps/k
//
// (the clip is torch's clip_grad_norm_ with max_norm 1), and then sets
// log alpha to log(alpha), so the state stays normalised (the softmax is
// unchanged by that shift when eps = 0). A weight never falls below
// alphaFloor. It updates the running mean and the EMA and returns M.
func (l *Learner) Update() []float64 {
	k := l.K()
	m := l.Pending
	if l.Observed > 1 {
		for g := range m {
			m[g] /= float64(l.Observed)
		}
	}
	norm := 0.0
	for _, v := range m {
		norm += v * v
	}
	scale := l.Config.Eta
	if !l.Unclipped {
		scale *= math.Min(1, 1/(math.Sqrt(norm)+clipEpsilon))
	}
	maxLog := math.Inf(-1)
	for g := range k {
		l.LogAlpha[g] += scale * m[g]
		maxLog = math.Max(maxLog, l.LogAlpha[g])
	}
	sum := 0.0
	for g := range k {
		l.Alpha[g] = math.Exp(l.LogAlpha[g] - maxLog)
		sum += l.Alpha[g]
	}
	eps := l.Config.Smoothing
	l.Steps++
	for g := range k {
		a := math.Max((1-eps)*l.Alpha[g]/sum+eps/float64(k), alphaFloor)
		l.Alpha[g] = a
		l.LogAlpha[g] = math.Log(a)
		l.Mean[g] += (a - l.Mean[g]) / float64(l.Steps)
		l.EMA[g] = (1-l.Config.EMA)*l.EMA[g] + l.Config.EMA*a
	}
	used := append([]float64(nil), m...)
	clear(l.Pending)
	l.Observed = 0
	return used
}

// ExampleWeights returns alpha[domain[i]] normalised to sum 1 over the
// micro-batch: the weights of the proxy's per-example losses. Weights are
// never below alphaFloor, so the sum is positive; an empty micro-batch has
// no weights.
func (l *Learner) ExampleWeights(domain []int) []float64 {
	w := make([]float64, len(domain))
	sum := 0.0
	for i, d := range domain {
		w[i] = l.Alpha[d]
		sum += w[i]
	}
	for i := range w {
		w[i] /= sum
	}
	return w
}

// Step is one optimizer step over a batch made of micro equal micro-batches
// (gradient accumulation, the official run's gradient_accumulation_steps),
// in the official order: each micro-batch is observed on its own (its own
// normalisation and absent policy); micro-batches 1..micro-1 are weighted
// with alpha as it was before this step (their backward passes run before
// the update), the mean of all micro-batch scores makes one Update, and the
// last micro-batch is weighted with the new alpha. Each micro-batch's
// ExampleWeights are divided by micro, so the gradient of the weighted loss
// is the mean of the micro-batches' losses, as the accumulated gradient is.
// micro = 1 is a plain step: scores, update, weights with the new alpha.
func (l *Learner) Step(proxy, ref []float64, domain []int, micro int) (weights, scores []float64, err error) {
	n := len(domain)
	if micro < 1 || n%micro != 0 {
		return nil, nil, fmt.Errorf("%d examples do not split into %d equal micro-batches", n, micro)
	}
	if len(proxy) != n || (ref != nil && len(ref) != n) {
		return nil, nil, fmt.Errorf("%d domains, %d proxy and %d reference losses", n, len(proxy), len(ref))
	}
	size := n / micro
	part := func(x []float64, lo int) []float64 {
		if x == nil { // the raw measure needs no reference
			return nil
		}
		return x[lo : lo+size]
	}
	weights = make([]float64, 0, n)
	addWeights := func(lo int) {
		for _, w := range l.ExampleWeights(domain[lo : lo+size]) {
			weights = append(weights, w/float64(micro))
		}
	}
	for lo := 0; lo < n; lo += size {
		if _, err := l.Observe(proxy[lo:lo+size], part(ref, lo), domain[lo:lo+size]); err != nil {
			clear(l.Pending)
			l.Observed = 0
			return nil, nil, err
		}
		if lo+size < n {
			addWeights(lo)
		}
	}
	scores = l.Update()
	addWeights(n - size)
	return weights, scores, nil
}
