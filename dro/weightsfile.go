package dro

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sort"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/internal/atomicfile"
)

// WeightsFile is a set of domain weights in the official tDRO JSON schema:
//
//	{"domain_ids":{name:idx},"domain_weights":{name:w},"size":{name:n},"epoch":{name:w*total/size}}
//
// where total is the sum of the sizes: epoch says how many passes over a
// domain sampling total examples with these weights makes.
type WeightsFile struct {
	DomainIDs     map[string]int     `json:"domain_ids"`
	DomainWeights map[string]float64 `json:"domain_weights"`
	Size          map[string]int     `json:"size"`
	Epoch         map[string]float64 `json:"epoch"`
}

// NewWeightsFile builds the file for domains names (their ids are their
// indexes) with weights and record counts sizes.
func NewWeightsFile(names []string, weights []float64, sizes []int) (*WeightsFile, error) {
	if len(names) == 0 {
		return nil, errors.New("weights: no domains")
	}
	if len(weights) != len(names) || len(sizes) != len(names) {
		return nil, fmt.Errorf("weights: %d names, %d weights, %d sizes", len(names), len(weights), len(sizes))
	}
	total := 0
	for i, n := range sizes {
		if n <= 0 {
			return nil, fmt.Errorf("weights: domain %q has no records", names[i])
		}
		total += n
	}
	w := &WeightsFile{DomainIDs: map[string]int{}, DomainWeights: map[string]float64{},
		Size: map[string]int{}, Epoch: map[string]float64{}}
	for i, name := range names {
		if _, dup := w.DomainIDs[name]; dup {
			return nil, fmt.Errorf("weights: domain %q repeats", name)
		}
		w.DomainIDs[name] = i
		w.DomainWeights[name] = weights[i]
		w.Size[name] = sizes[i]
		w.Epoch[name] = weights[i] * float64(total) / float64(sizes[i])
	}
	return w, w.Validate()
}

// Validate checks that every map names the same domains, ids are 0..k-1 and
// weights are finite, non-negative and not all 0.
func (w *WeightsFile) Validate() error {
	k := len(w.DomainIDs)
	if k == 0 {
		return errors.New("field \"domain_ids\": no domains")
	}
	seen := make([]string, k)
	positive := false
	for name, id := range w.DomainIDs {
		if id < 0 || id >= k || seen[id] != "" {
			return fmt.Errorf("field \"domain_ids\": domain %q has id %d; ids must be 0..%d, each once", name, id, k-1)
		}
		seen[id] = name
		wt, ok := w.DomainWeights[name]
		if !ok {
			return fmt.Errorf("field \"domain_weights\": domain %q missing", name)
		}
		if math.IsNaN(wt) || math.IsInf(wt, 0) || wt < 0 {
			return fmt.Errorf("field \"domain_weights\": domain %q: must be a finite number >= 0, got %v", name, wt)
		}
		positive = positive || wt > 0
	}
	if len(w.DomainWeights) != k {
		for name := range w.DomainWeights {
			if _, ok := w.DomainIDs[name]; !ok {
				return fmt.Errorf("field \"domain_weights\": domain %q is not in \"domain_ids\"", name)
			}
		}
	}
	if !positive {
		return errors.New("field \"domain_weights\": every weight is 0")
	}
	return nil
}

// Names returns the domain names ordered by id.
func (w *WeightsFile) Names() []string {
	names := make([]string, len(w.DomainIDs))
	for name, id := range w.DomainIDs {
		names[id] = name
	}
	return names
}

// Weights returns the weights ordered by id.
func (w *WeightsFile) Weights() []float64 {
	out := make([]float64, len(w.DomainIDs))
	for name, id := range w.DomainIDs {
		out[id] = w.DomainWeights[name]
	}
	return out
}

// Sizes returns the record counts ordered by id.
func (w *WeightsFile) Sizes() []int {
	out := make([]int, len(w.DomainIDs))
	for name, id := range w.DomainIDs {
		out[id] = w.Size[name]
	}
	return out
}

// LoadWeights reads and validates a weights file.
func LoadWeights(path string) (*WeightsFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var w WeightsFile
	if err := data.DecodeJSON(b, &w); err != nil {
		return nil, fmt.Errorf("weights %s: %w", path, err)
	}
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("weights %s: %w", path, err)
	}
	return &w, nil
}

// Save atomically writes w as indented JSON.
func (w *WeightsFile) Save(path string) error {
	if err := w.Validate(); err != nil {
		return fmt.Errorf("weights %s: %w", path, err)
	}
	return atomicfile.WriteJSON(path, w)
}

// TopPercent returns the indexes of the floor(k*percent/100) highest
// weights (official rule), highest first; ties keep the lower index first.
// percent must be in (0,100] and select at least one domain.
func TopPercent(weights []float64, percent float64) ([]int, error) {
	if !(percent > 0 && percent <= 100) {
		return nil, fmt.Errorf("percent must be in (0,100], got %v", percent)
	}
	k := len(weights)
	n := int(math.Floor(float64(k) * percent / 100))
	if n == 0 {
		return nil, fmt.Errorf("percent %v of %d domains selects none (floor(%d*%v/100) = 0)", percent, k, k, percent)
	}
	idx := make([]int, k)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return weights[idx[a]] > weights[idx[b]] })
	return idx[:n], nil
}

// Selection is the weights file of a top-percent selection as the official
// trainer writes it (top{pct}_weights.json): only the selected domains,
// renumbered 0..n-1 by descending weight, each at weight 1/n, with their
// sizes and their epochs computed over the selected sizes only.
func (w *WeightsFile) Selection(percent float64) (*WeightsFile, error) {
	top, err := TopPercent(w.Weights(), percent)
	if err != nil {
		return nil, err
	}
	names, sizes := w.Names(), w.Sizes()
	selNames := make([]string, len(top))
	selWeights := make([]float64, len(top))
	selSizes := make([]int, len(top))
	for j, i := range top {
		selNames[j], selWeights[j], selSizes[j] = names[i], 1/float64(len(top)), sizes[i]
	}
	return NewWeightsFile(selNames, selWeights, selSizes)
}

// FileName is the name the official trainer gives a weights file of kind
// "curr", "mean", "ema" or "top70" (any of TopPercents): curr_weights.json.
func FileName(kind string) string { return kind + "_weights.json" }
