package dro

import (
	"errors"
	"fmt"
	"math"
)

// Absent is the policy for a domain with no example in a micro-batch.
type Absent string

const (
	// AbsentZero scores an absent domain 0 (official tDRO code).
	AbsentZero Absent = "zero"
	// AbsentKeep gives an absent domain its previous score (DoReMi).
	AbsentKeep Absent = "keep"
)

// Defaults of the weight update (official tDRO code).
const (
	DefaultEta      = 0.02
	DefaultEMADecay = 0.1
)

// UpdateConfig configures the domain-weight update.
type UpdateConfig struct {
	Measure   Measure `json:"measure"`   // default Relative
	Absent    Absent  `json:"absent"`    // default AbsentZero
	Eta       float64 `json:"eta"`       // step size, default DefaultEta
	Smoothing float64 `json:"smoothing"` // eps in alpha <- (1-eps) alpha + eps/k, default 0
	EMA       float64 `json:"ema"`       // weight of the newest alpha in the EMA, default DefaultEMADecay
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
	}
	return nil
}

// Learner holds the domain weights alpha and everything needed to continue
// learning them; it is JSON-serialisable so that checkpoints resume exactly.
//
// One optimizer step is any number of Observe calls (one per gradient
// accumulation micro-batch; their scores are summed) followed by one Update.
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
}

// NewLearner starts k domains at uniform weights.
func NewLearner(k int, cfg UpdateConfig) (*Learner, error) {
	if k <= 0 {
		return nil, errors.New("dro: no domains")
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dro: %w", err)
	}
	l := &Learner{Config: cfg, LogAlpha: make([]float64, k), Alpha: make([]float64, k),
		Mean: make([]float64, k), EMA: make([]float64, k), Last: make([]float64, k), Pending: make([]float64, k)}
	for g := range k {
		l.Alpha[g] = 1 / float64(k)
		l.LogAlpha[g] = math.Log(l.Alpha[g])
		l.Mean[g] = l.Alpha[g]
		l.EMA[g] = l.Alpha[g]
	}
	return l, nil
}

// K is the number of domains.
func (l *Learner) K() int { return len(l.Alpha) }

// Observe scores one micro-batch (see Measure.Scores), applies the absent
// policy and adds the scores to the pending sum. It returns the micro-batch
// scores after the policy.
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

// Update applies one exponentiated-gradient step with the pending scores M:
//
//	log alpha <- log alpha + eta * M / max(1, ||M||_2)
//	alpha     <- softmax(log alpha);  alpha <- (1-eps) alpha + eps/k
//
// and then sets log alpha to log(alpha), so the state stays normalised (the
// softmax is unchanged by that shift when eps = 0). It updates the running
// mean and the EMA and returns the scores used.
func (l *Learner) Update() []float64 {
	k := l.K()
	m := l.Pending
	norm := 0.0
	for _, v := range m {
		norm += v * v
	}
	scale := l.Config.Eta / math.Max(1, math.Sqrt(norm))
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
		a := (1-eps)*l.Alpha[g]/sum + eps/float64(k)
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
// micro-batch: the weights of the proxy's per-example losses.
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
// (gradient accumulation, the official run's gradient_accumulation_steps):
// each micro-batch is observed on its own (its own normalisation and absent
// policy), the summed scores make one Update, and the returned per-example
// weights are each micro-batch's ExampleWeights divided by micro — the
// gradient of their weighted loss is the mean of the micro-batches' losses,
// as the accumulated gradient is. micro = 1 is a plain step.
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
	for lo := 0; lo < n; lo += size {
		if _, err := l.Observe(proxy[lo:lo+size], part(ref, lo), domain[lo:lo+size]); err != nil {
			return nil, nil, err
		}
	}
	scores = l.Update()
	weights = make([]float64, 0, n)
	for lo := 0; lo < n; lo += size {
		for _, w := range l.ExampleWeights(domain[lo : lo+size]) {
			weights = append(weights, w/float64(micro))
		}
	}
	return weights, scores, nil
}
