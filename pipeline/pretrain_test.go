package pipeline

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tdro/tdro/data"
)

// TestPretrainStage runs the tiny pipeline with pretrain up to stage 0 and
// the untrained model's evaluation: crop pairs of every prepared domain's
// passages, a pre-training on them from the untrained model, stage 0 from
// the pre-trained model, and the "base" row still the untrained network.
func TestPretrainStage(t *testing.T) {
	dir := t.TempDir()
	opt := tinyOptions(t, dir)
	opt.Config.Pretrain = &PretrainConfig{Steps: 3}
	if err := opt.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	opt.Until = []string{"train-reference", "eval-base"}
	ran := runStages(t, opt)
	if want := []string{"base", "prepare", "crops", "train-pretrained", "train-reference", "eval-base"}; !slices.Equal(ran, want) {
		t.Errorf("ran %v, want %v", ran, want)
	}
	for st, want := range map[string]string{"train-pretrained": "base", "train-reference": "train-pretrained", "eval-base": "base"} {
		m, err := LoadManifest(dir, st)
		if err != nil || m == nil {
			t.Fatalf("manifest of %s: %v", st, err)
		}
		_, base := m.Upstream["base"]
		_, pre := m.Upstream["train-pretrained"]
		if (want == "base") != (base && !pre) {
			t.Errorf("%s starts from the wrong model: upstream %v, want %s", st, m.Upstream, want)
		}
	}
	prepared, err := data.LoadMixture(filepath.Join(dir, mixtureFile))
	if err != nil {
		t.Fatal(err)
	}
	crops, err := data.LoadMixture(filepath.Join(dir, cropsMixture))
	if err != nil {
		t.Fatal(err)
	}
	if len(crops.Domains) != len(prepared.Domains) {
		t.Fatalf("%d crop domains from %d prepared", len(crops.Domains), len(prepared.Domains))
	}
	for i, d := range crops.Domains {
		recs, err := data.ReadRecords(d.Path)
		if err != nil {
			t.Fatal(err)
		}
		if d.Name != prepared.Domains[i].Name || len(recs) != d.Records || len(recs) == 0 || len(d.Instructions) != 0 {
			t.Errorf("crop domain %d: %s with %d records (mixture: %d), instructions %q", i, d.Name, len(recs), d.Records, d.Instructions)
		}
		for _, r := range recs {
			if len(r.Positives) != 1 || len(r.Negatives) != 0 || r.Query == "" {
				t.Fatalf("%s: crop record %+v", d.Name, r)
			}
		}
	}
	weights := func(run string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, modelDir(run), "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if bytes.Equal(weights(baseRun), weights(pretrainedRun)) {
		t.Error("pre-training left the base model's weights unchanged")
	}
	rerunSkipsAll(t, opt)
}

func TestPretrainConfigProblems(t *testing.T) {
	for _, c := range []struct {
		p    PretrainConfig
		want string
	}{
		{PretrainConfig{}, "pretrain: steps must be > 0"},
		{PretrainConfig{Steps: 2, LearningRate: -1}, "learning_rate >= 0"},
		{PretrainConfig{Steps: 2, CropMin: 0.6}, "want 0 < min <= max <= 1"},
	} {
		wantProblem(t, tinyConfig(t, func(cfg *Config) { cfg.Pretrain = &c.p }), c.want)
	}
}

// TestBaseNoteSaysWhatTrainingStartsFrom: the report's note on the base
// row names the pre-training and the re-mined negatives when a run has them.
func TestBaseNoteSaysWhatTrainingStartsFrom(t *testing.T) {
	for _, c := range []struct {
		name     string
		change   func(*Config)
		want     []string
		wantNone string
	}{
		{"plain", func(*Config) {}, []string{"initialisation every training starts from, evaluated untrained"}, "re-mined"},
		{"pretrain", func(c *Config) { c.Pretrain = &PretrainConfig{Steps: 3} }, []string{"pre-trained for 3 steps on crop pairs", "models/pretrained"}, "every training starts from"},
		{"remine", func(c *Config) { c.Prepare.Remine = &RemineConfig{Negatives: 5} }, []string{"5 per record re-mined", "models/retriever"}, "pre-trained"},
	} {
		got := baseNote(tinyConfig(t, c.change))
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", c.name, got, w)
			}
		}
		if strings.Contains(got, c.wantNone) {
			t.Errorf("%s: %q says %q", c.name, got, c.wantNone)
		}
	}
}
