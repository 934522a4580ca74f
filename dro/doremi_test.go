package dro

import (
	"math"
	"testing"

	"github.com/tdro/tdro/train"
)

// TestDoReMiUpdate follows DoReMi's formulas by hand for two steps on two
// domains: excess clipped at 0, no norm clip, smoothing c toward uniform,
// an absent domain keeping its excess, and the average as the output.
func TestDoReMiUpdate(t *testing.T) {
	domains := []train.Domain{{}, {}}
	cfg := DefaultRecipe()
	cfg.Learner, cfg.Eta, cfg.Smoothing = LearnerDoReMi, 1, 0.1
	wl, err := newWeightLearner(domains, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Step 1: domain 0 excess mean(max(1.5-1, 0), max(0.5-1, 0)) = 0.25;
	// domain 1 mean(max(0.8-1, 0)) = 0 (clipped at 0).
	if _, _, err := wl.Step([]float64{1.5, 0.5, 0.8}, []float64{1, 1, 1}, []int{0, 0, 1}, 1); err != nil {
		t.Fatal(err)
	}
	smooth := func(a []float64) []float64 {
		s := a[0] + a[1]
		return []float64{0.9*a[0]/s + 0.05, 0.9*a[1]/s + 0.05}
	}
	a1 := smooth([]float64{0.5 * math.Exp(1*0.25), 0.5 * math.Exp(0)})
	// Step 2: only domain 0 (excess 0.6); domain 1 keeps its 0.
	if _, _, err := wl.Step([]float64{1.6}, []float64{1}, []int{0}, 1); err != nil {
		t.Fatal(err)
	}
	a2 := smooth([]float64{a1[0] * math.Exp(0.6), a1[1]})
	w := wl.Weights()
	for g := range 2 {
		if math.Abs(w.Mean[g]-(a1[g]+a2[g])/2) > 1e-12 || w.Curr[g] != w.Mean[g] {
			t.Errorf("domain %d: average %v curr %v, want %v for both", g, w.Mean[g], w.Curr[g], (a1[g]+a2[g])/2)
		}
	}
	// A tDRO learner on the same data clips the step (norm 0.25 < 1 is not
	// clipped, 0.6 is not either; a large excess is): DoReMi does not.
	big, _ := newWeightLearner(domains, cfg)
	big.Step([]float64{6}, []float64{1}, []int{0}, 1)
	if got, want := big.Weights().Curr[0], smooth([]float64{0.5 * math.Exp(5), 0.5})[0]; math.Abs(got-want) > 1e-12 {
		t.Errorf("excess 5: weight %v, want the unclipped %v", got, want)
	}
	cfg.Measure = Raw
	if _, err := newWeightLearner(domains, cfg); err == nil {
		t.Error("doremi with measure raw accepted")
	}
}
