// Package dro implements task-level Distributionally Robust Optimization
// (tDRO, Ma et al., AAAI 2025, arXiv 2408.10613): it learns one weight per
// training domain by exponentiated-gradient ascent on a per-domain loss
// measurement, writes the weights in the official tDRO JSON schema and
// transfers them to fine-tuning mixtures (top-k selection, sample ratios,
// loss reweighting).
//
// The pure-Go core (Measure, Learner, WeightsFile, Transfer) has no GoMLX
// dependency; Run drives it with a trainable proxy model and a frozen
// reference model.
package dro

import (
	"fmt"
	"math"
)

// Measure selects how per-example proxy and reference losses become one
// score per domain.
type Measure string

const (
	// Relative is the paper's measurement: mean proxy loss over mean
	// reference loss of the domain's examples.
	Relative Measure = "relative"
	// RelativeOfficial is the official code's measurement: each reference
	// loss is normalised by the sum of |reference losses| of the micro-batch
	// (values below 1e-4 become 1), m_i = max(proxy_i / that, 0), and the
	// domain's score is the mean of m_i.
	RelativeOfficial Measure = "relative-official"
	// Excess is DoReMi's group excess loss: mean of max(proxy_i - ref_i, 0).
	Excess Measure = "excess"
	// Raw is GroupDRO: the mean proxy loss, no reference.
	Raw Measure = "raw"
)

// Measures lists every measurement, for flags and errors.
var Measures = []Measure{Relative, RelativeOfficial, Excess, Raw}

// officialFloor is the official code's rule: a normalised reference loss
// below it is replaced by 1.
const officialFloor = 1e-4

// relativeFloor keeps the paper's ratio finite when a domain's mean
// reference loss is 0 (the L2 clip then bounds the step anyway).
const relativeFloor = 1e-12

func bad(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }

// Validate reports an unknown measurement.
func (m Measure) Validate() error {
	for _, known := range Measures {
		if m == known {
			return nil
		}
	}
	return fmt.Errorf("unknown measurement %q (want one of %v)", string(m), Measures)
}

// Scores computes one score per domain from one micro-batch: proxy[i] and
// ref[i] are example i's losses under the proxy and reference models and
// domain[i] in [0,k) its domain. present[g] says whether domain g had an
// example in the micro-batch; an absent domain's score is 0 here (the
// Learner applies the absent-domain policy).
func (m Measure) Scores(proxy, ref []float64, domain []int, k int) (scores []float64, present []bool, err error) {
	if err := m.Validate(); err != nil {
		return nil, nil, err
	}
	if len(proxy) != len(domain) || (m != Raw && len(ref) != len(domain)) {
		return nil, nil, fmt.Errorf("scores: %d proxy losses, %d reference losses, %d domains", len(proxy), len(ref), len(domain))
	}
	for i, d := range domain {
		if d < 0 || d >= k {
			return nil, nil, fmt.Errorf("scores: example %d has domain %d, want [0,%d)", i, d, k)
		}
		if bad(proxy[i]) {
			return nil, nil, fmt.Errorf("scores: example %d (domain %d) has a non-finite proxy loss %v", i, d, proxy[i])
		}
		if m != Raw && bad(ref[i]) {
			return nil, nil, fmt.Errorf("scores: example %d (domain %d) has a non-finite reference loss %v", i, d, ref[i])
		}
	}
	count := make([]int, k)
	sumP := make([]float64, k) // per-domain sums of the per-example term
	sumR := make([]float64, k)
	refNorm := 0.0
	if m == RelativeOfficial {
		for _, r := range ref {
			refNorm += math.Abs(r)
		}
	}
	for i, d := range domain {
		count[d]++
		switch m {
		case Relative:
			sumP[d] += proxy[i]
			sumR[d] += ref[i]
		case RelativeOfficial:
			r := 0.0
			if refNorm > 0 {
				r = ref[i] / refNorm
			}
			if r < officialFloor {
				r = 1
			}
			sumP[d] += math.Max(proxy[i]/r, 0)
		case Excess:
			sumP[d] += math.Max(proxy[i]-ref[i], 0)
		case Raw:
			sumP[d] += proxy[i]
		}
	}
	scores = make([]float64, k)
	present = make([]bool, k)
	for g := range k {
		if count[g] == 0 {
			continue
		}
		present[g] = true
		n := float64(count[g])
		if m == Relative {
			scores[g] = (sumP[g] / n) / math.Max(sumR[g]/n, relativeFloor)
		} else {
			scores[g] = sumP[g] / n
		}
	}
	return scores, present, nil
}
