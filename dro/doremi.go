package dro

import (
	"fmt"

	"github.com/tdro/tdro/train"
)

// LearnerDoReMi is DoReMi (Xie et al. 2023, sangmichaelxie/doremi) as a
// weight learner: per domain the excess loss max(proxy - reference, 0)
// averaged over the domain's examples, a domain absent from a batch keeps
// its previous excess, the update log alpha += eta * excess with no norm
// clip, smoothing toward uniform (DoReMiSmoothing unless the recipe sets
// one), and the weights averaged over the run as its output (curr is the
// average; the last alpha is not what DoReMi returns).
const LearnerDoReMi = "doremi"

// DoReMiSmoothing is DoReMi's default smoothing c in
// alpha <- (1-c) alpha + c/k.
const DoReMiSmoothing = 1e-3

func init() {
	RegisterLearner(LearnerDoReMi, func(domains []train.Domain, cfg Recipe) (WeightLearner, error) {
		u := cfg.UpdateConfig.WithDefaults()
		// The measure and absent policy are DoReMi's by definition; a recipe
		// that asks for others is contradictory, not silently overridden.
		if u.Measure != Relative && u.Measure != Excess {
			return nil, fmt.Errorf("learner doremi: measure is excess by definition, the recipe says %q", u.Measure)
		}
		if u.Absent != AbsentZero && u.Absent != AbsentKeep {
			return nil, fmt.Errorf("learner doremi: absent is keep by definition, the recipe says %q", u.Absent)
		}
		u.Measure, u.Absent = Excess, AbsentKeep
		if u.Smoothing == 0 {
			u.Smoothing = DoReMiSmoothing
		}
		l, err := NewLearnerAt(startWeights(domains, u.Init), u)
		if err != nil {
			return nil, err
		}
		l.Unclipped = true
		return doReMi{l}, nil
	})
}

// doReMi is the tDRO Learner with DoReMi's settings, returning the average.
type doReMi struct{ *Learner }

// Weights implements WeightLearner: DoReMi's output is the average of the
// weights over the updates, so it is Curr too.
func (d doReMi) Weights() Weights {
	w := d.Learner.Weights()
	w.Curr = append([]float64(nil), w.Mean...)
	return w
}
