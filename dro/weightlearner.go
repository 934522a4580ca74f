package dro

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tdro/tdro/train"
)

// WeightLearner is the seam for a domain-weight learner inside the tDRO
// loop (Stepper): each step it sees the batch's per-example proxy and
// reference losses, updates its weights and says how to weight this batch's
// proxy loss. tDRO's Learner is one; another learner is a new file that
// implements this and calls RegisterLearner.
type WeightLearner interface {
	// Step observes one batch (dom: each example's domain index) split in
	// micro micro-batches, updates the weights, and returns per-example
	// weights for the proxy's loss (mean 1) and the per-domain scores that
	// moved the weights.
	Step(proxy, ref []float64, dom []int, micro int) (weights, scores []float64, err error)
	// Weights are the learner's current, running-mean and EMA weights and
	// the log of the current ones (each sums to 1 over the domains).
	Weights() Weights
	// State is the learner's checkpoint; Restore puts one back, refusing a
	// state another configuration wrote.
	State() (json.RawMessage, error)
	Restore(state json.RawMessage) error
}

// Weights are a learner's domain weights, in mixture order.
type Weights struct {
	Curr, Mean, EMA, Log []float64
}

// NewWeightLearner builds one learner for a run's domains.
type NewWeightLearner func(domains []train.Domain, cfg Recipe) (WeightLearner, error)

var weightLearners = map[string]NewWeightLearner{}

// RegisterLearner makes a learner selectable by name (the recipe's
// "learner" field). Learners call it from init.
func RegisterLearner(name string, build NewWeightLearner) {
	if _, dup := weightLearners[name]; dup {
		panic(fmt.Sprintf("dro: learner %q registered twice", name))
	}
	weightLearners[name] = build
}

// LearnerNames lists the registered learners, sorted.
func LearnerNames() []string { return slices.Sorted(maps.Keys(weightLearners)) }

func checkLearner(name string) error {
	if _, ok := weightLearners[name]; !ok {
		return fmt.Errorf("learner: unknown %q (want one of %s)", name, strings.Join(LearnerNames(), ", "))
	}
	return nil
}

// newWeightLearner builds the recipe's learner.
func newWeightLearner(domains []train.Domain, cfg Recipe) (WeightLearner, error) {
	if err := checkLearner(cfg.Learner); err != nil {
		return nil, err
	}
	return weightLearners[cfg.Learner](domains, cfg)
}

// LearnerTDRO is tDRO's exponentiated-gradient learner (Learner).
const LearnerTDRO = "tdro"

func init() {
	RegisterLearner(LearnerTDRO, func(domains []train.Domain, cfg Recipe) (WeightLearner, error) {
		return NewLearnerAt(startWeights(domains, cfg.UpdateConfig.WithDefaults().Init), cfg.UpdateConfig)
	})
}

// startWeights is where alpha starts: uniform, or the mixture's weights.
func startWeights(domains []train.Domain, init Init) []float64 {
	start := make([]float64, len(domains))
	for i, d := range domains {
		start[i] = 1
		if init == InitMixture {
			start[i] = d.Weight
		}
	}
	return start
}

// Weights implements WeightLearner.
func (l *Learner) Weights() Weights {
	return Weights{Curr: slices.Clone(l.Alpha), Mean: slices.Clone(l.Mean), EMA: slices.Clone(l.EMA), Log: slices.Clone(l.LogAlpha)}
}

// State implements WeightLearner: the Learner as JSON.
func (l *Learner) State() (json.RawMessage, error) { return json.Marshal(l) }

// Restore implements WeightLearner: it refuses a state of another size or
// update rule.
func (l *Learner) Restore(state json.RawMessage) error {
	var saved Learner
	if err := json.Unmarshal(state, &saved); err != nil {
		return fmt.Errorf("tDRO state: %w", err)
	}
	if saved.K() != l.K() {
		return fmt.Errorf("tDRO state has no weights for %d domains", l.K())
	}
	if saved.Config != l.Config {
		return fmt.Errorf("checkpoint weight update %+v differs from the config's %+v", saved.Config, l.Config)
	}
	*l = saved
	return nil
}
