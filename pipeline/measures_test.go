package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/tdro/tdro/dro"
)

// TestLossMeasureAblation: "tdro-excess" and "tdro-raw" are tDRO with
// another measure, each its own stage-1 run whose weights make their own
// mixtures; the weights differ from the relative measure's.
func TestLossMeasureAblation(t *testing.T) {
	dir := t.TempDir()
	opt := tinyOptions(t, dir)
	opt.Config.Learners = []string{LearnerTDRO, LearnerTDROExcess, LearnerTDRORaw}
	opt.Config.Transfer = []TransferConfig{{Name: "ratio", Strategy: dro.Ratio}}
	if err := opt.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	opt.Until = []string{"train-tdro-excess-ratio", "train-tdro-raw-ratio"}
	if _, err := Run(context.Background(), opt); err != nil {
		t.Fatal(err)
	}
	weights := map[string]map[string]float64{}
	for _, l := range []string{LearnerTDRO, LearnerTDROExcess, LearnerTDRORaw} {
		m, err := LoadManifest(dir, opt.Config.learnerStage(l))
		if err != nil || m == nil {
			t.Fatalf("%s: no manifest (%v)", l, err)
		}
		var c dro.Config
		if err := json.Unmarshal(m.Config, &c); err != nil {
			t.Fatal(err)
		}
		_, want := stepLearner(l, opt.Config.DRO)
		if c.Learner != LearnerTDRO || c.Measure != want {
			t.Errorf("%s ran learner %s with measure %s, want tdro with %s", l, c.Learner, c.Measure, want)
		}
		var w struct {
			Weights map[string]float64 `json:"domain_weights"`
		}
		b, err := os.ReadFile(filepath.Join(dir, opt.Config.learnerWeights(l)))
		if err == nil {
			err = json.Unmarshal(b, &w)
		}
		if err != nil {
			t.Fatal(err)
		}
		weights[l] = w.Weights
	}
	if m := opt.Config.DRO.Measure; m != dro.Relative {
		t.Fatalf("the tiny preset measures %s; the test wants relative as the primary", m)
	}
	same := func(a, b map[string]float64) bool {
		for k, v := range a {
			if b[k] != v {
				return false
			}
		}
		return len(a) == len(b)
	}
	if same(weights[LearnerTDRO], weights[LearnerTDROExcess]) || same(weights[LearnerTDRO], weights[LearnerTDRORaw]) {
		t.Errorf("another measure learned the same weights: %v", weights)
	}
	if _, err := os.Stat(filepath.Join(dir, modelDir("tdro-excess-ratio"))); err != nil {
		t.Errorf("no model from the excess-loss weights: %v", err)
	}
}
