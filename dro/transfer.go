package dro

import (
	"fmt"
	"math"
	"sort"

	"github.com/tdro/tdro/data"
)

// Strategy turns learned domain weights into a fine-tuning mixture.
type Strategy string

const (
	// TopK keeps the floor(k*percent/100) highest-weighted domains, each with
	// the same sampling weight (the paper's best: 70%).
	TopK Strategy = "top-k"
	// Ratio uses the weights as sampling probabilities.
	Ratio Strategy = "ratio"
	// LossReweight keeps uniform sampling and scales domain g's loss by
	// k * alpha_g.
	LossReweight Strategy = "loss-reweight"
	// BottomK keeps the floor(k*percent/100) lowest-weighted domains at equal
	// weights: the paper's control (Table 5). If the weights carry signal,
	// it trains worse than TopK.
	BottomK Strategy = "bottom-k"
)

// Strategies lists every strategy, for flags and errors.
var Strategies = []Strategy{TopK, Ratio, LossReweight, BottomK}

// DefaultPercent is the paper's best top-k selection.
const DefaultPercent = 70

// Transfer builds the fine-tuning mixture from mix (the domains that were
// weighted) and the learned weights w. Every domain of w must be in mix and
// every domain of mix in w, except for Ratio (below). percent is used by
// TopK only. The result is a new mixture; mix is not changed. TopK drops
// the unselected domains. Ratio also takes a weights file that names only some of the mixture's
// domains (an official top-k file): the others get weight 0 and are left
// out, so Ratio on top70_weights.json gives TopK's 70% mixture.
func Transfer(mix *data.Mixture, w *WeightsFile, strategy Strategy, percent float64) (*data.Mixture, error) {
	if mix == nil || len(mix.Domains) == 0 {
		return nil, fmt.Errorf("transfer: mixture has no domains")
	}
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	alpha, err := alignWeights(mix, w, strategy)
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	k := len(mix.Domains)
	out := &data.Mixture{}
	switch strategy {
	case TopK, BottomK:
		ranked := alpha
		if strategy == BottomK {
			ranked = make([]float64, k)
			for i, a := range alpha {
				ranked[i] = -a
			}
		}
		top, err := TopPercent(ranked, percent)
		if err != nil {
			return nil, fmt.Errorf("transfer %s: %w", strategy, err)
		}
		sort.Ints(top) // keep the mixture's order
		for _, i := range top {
			d := mix.Domains[i]
			d.Weight = 1 / float64(len(top))
			d.LossScale = 0
			out.Domains = append(out.Domains, d)
		}
	case Ratio:
		for i, d := range mix.Domains {
			if alpha[i] == 0 {
				continue // a zero sampling probability: leave it out
			}
			d.Weight = alpha[i]
			d.LossScale = 0
			out.Domains = append(out.Domains, d)
		}
	case LossReweight:
		for i, d := range mix.Domains {
			if alpha[i] == 0 {
				// LossScale 0 reads as 1 in a mixture file; refuse rather than
				// silently train on the domain at full weight.
				return nil, fmt.Errorf("transfer loss-reweight: domain %q has weight 0 (use top-k to drop domains)", d.Name)
			}
			d.Weight = 1 / float64(k)
			d.LossScale = float64(k) * alpha[i]
			out.Domains = append(out.Domains, d)
		}
	default:
		return nil, fmt.Errorf("transfer: unknown strategy %q (want one of %v)", strategy, Strategies)
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	return out, nil
}

// Baselines: mixtures that use no learned weights, only domain sizes.
const (
	// Proportional samples each domain in proportion to its record count
	// (sentence-transformers' size-proportional sampler).
	Proportional Strategy = "proportional"
	// Temperature samples domain g with probability proportional to
	// n_g^(1/T) (T = 1: proportional; T -> infinity: uniform).
	Temperature Strategy = "temperature"
)

// DefaultTemperature is the temperature baseline's T (as multilingual
// pre-training mixes languages).
const DefaultTemperature = 2.0

// Baseline builds a size-based mixture from mix: Proportional, or
// Temperature with exponent 1/temperature. A domain's size is its source's
// (data.Domain.SourceRecords, before prepare's per-domain sample) when
// known, else its record count (Records; RecordCounts fills it from the
// files): with every domain capped at the same sample size, the capped
// counts would make both baselines uniform.
func Baseline(mix *data.Mixture, strategy Strategy, temperature float64) (*data.Mixture, error) {
	if mix == nil || len(mix.Domains) == 0 {
		return nil, fmt.Errorf("baseline: mixture has no domains")
	}
	exp := 1.0
	switch strategy {
	case Proportional:
	case Temperature:
		if !(temperature > 0) || math.IsInf(temperature, 0) {
			return nil, fmt.Errorf("baseline temperature: T must be a finite number > 0, got %v", temperature)
		}
		exp = 1 / temperature
	default:
		return nil, fmt.Errorf("baseline: unknown %q (want %q or %q)", strategy, Proportional, Temperature)
	}
	w := make([]float64, len(mix.Domains))
	for i, d := range mix.Domains {
		n := d.SourceRecords
		if n <= 0 {
			n = d.Records
		}
		if n <= 0 {
			return nil, fmt.Errorf("baseline %s: domain %q has no record count", strategy, d.Name)
		}
		w[i] = math.Pow(float64(n), exp)
	}
	p, err := data.Normalize(w)
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", strategy, err)
	}
	out := &data.Mixture{}
	for i, d := range mix.Domains {
		d.Weight, d.LossScale = p[i], 0
		out.Domains = append(out.Domains, d)
	}
	return out, out.Validate()
}

// RecordCounts sets each domain's Records from its file where the mixture
// does not say (a user's mixture written by hand).
func RecordCounts(mix *data.Mixture) error {
	for i, d := range mix.Domains {
		if d.Records > 0 {
			continue
		}
		recs, err := data.IndexRecords(d.Path)
		if err != nil {
			return fmt.Errorf("domain %q: %w", d.Name, err)
		}
		mix.Domains[i].Records = recs.Len()
	}
	return nil
}

// TransferFiles is Transfer on files: it reads the mixture and the weights
// and atomically writes the new mixture to outPath.
func TransferFiles(mixturePath, weightsPath string, strategy Strategy, percent float64, outPath string) (*data.Mixture, error) {
	mix, err := data.LoadMixture(mixturePath)
	if err != nil {
		return nil, err
	}
	w, err := LoadWeights(weightsPath)
	if err != nil {
		return nil, err
	}
	out, err := Transfer(mix, w, strategy, percent)
	if err != nil {
		return nil, fmt.Errorf("%s with %s: %w", mixturePath, weightsPath, err)
	}
	return out, out.Save(outPath)
}

// alignWeights returns w's weights in mix's domain order, normalised to sum
// 1. A mixture domain the file does not name gets weight 0: an official
// top-k file (top70_weights.json) lists only the domains it selected, and
// the official loader samples nothing else. Only the ratio strategy can use
// such a file (it reproduces the selection); top-k needs every domain
// ranked, and loss-reweight refuses a weight of 0.
func alignWeights(mix *data.Mixture, w *WeightsFile, strategy Strategy) ([]float64, error) {
	inMix := map[string]bool{}
	for _, d := range mix.Domains {
		inMix[d.Name] = true
	}
	for _, name := range w.Names() {
		if !inMix[name] {
			return nil, fmt.Errorf("weights name domain %q, which is not in the mixture", name)
		}
	}
	alpha := make([]float64, len(mix.Domains))
	for i, d := range mix.Domains {
		wt, ok := w.DomainWeights[d.Name]
		if !ok && strategy != Ratio {
			return nil, fmt.Errorf("mixture domain %q has no weight in the weights file, which names %d of the mixture's %d domains "+
				"(a top-k selection file: use strategy %q to train on its selection, or the curr/mean/ema weights with %q)",
				d.Name, len(w.DomainIDs), len(mix.Domains), Ratio, strategy)
		}
		alpha[i] = wt
	}
	return data.Normalize(alpha)
}
