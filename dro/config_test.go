package dro

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tdro/tdro/train"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dro.json")
	os.WriteFile(path, []byte(`{"mixture": "data/mix.json", "base": "tiny-bert", "reference": "/abs/ref",
 "out": "out", "steps": 7, "measure": "excess", "eta": 0.5, "temperature": 0.01, "learning_rate": 0.001}`), 0o644)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mixture != filepath.Join(dir, "data/mix.json") || cfg.Out != filepath.Join(dir, "out") ||
		cfg.Base != "tiny-bert" || cfg.Reference != "/abs/ref" {
		t.Errorf("paths: %+v", cfg)
	}
	if cfg.Steps != 7 || cfg.Measure != Excess || cfg.Eta != 0.5 || cfg.Temperature != 0.01 || cfg.LearningRate != 0.001 {
		t.Errorf("fields: %+v", cfg)
	}
	if cfg.Negatives != 7 || cfg.Absent != AbsentZero || cfg.Similarity != "cos" {
		t.Errorf("defaults lost: %+v", cfg)
	}
	if err := cfg.Validate(); err != nil || !cfg.HardNegativesOnly {
		t.Errorf("validate: %v, hard negatives only %v", err, cfg.HardNegativesOnly)
	}
	for doc, want := range map[string]string{
		`{"stpes": 3}`:            `unknown field "stpes"`,
		"{\n\"steps\": \"many\"}": `line 2: field "steps"`,
		"{\n\n\"steps\": 3,,}":    "line 3",
	} {
		os.WriteFile(path, []byte(doc), 0o644)
		if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want %q", doc, err, want)
		}
	}
}

func TestValidateMicroBatches(t *testing.T) {
	for _, tc := range []struct {
		micro int
		want  string // "" = valid
	}{
		{0, ""}, {1, ""}, {4, ""}, {16, ""},
		{-1, "micro_batches: must be >= 0"},
		{3, "micro_batches: must divide batch_size 16"},
	} {
		cfg := DefaultConfig()
		cfg.Mixture, cfg.Base, cfg.Reference, cfg.Out = "m.json", "tiny-bert", "ref", "out"
		cfg.MicroBatches = tc.micro
		err := cfg.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("micro_batches %d: err = %v, want %q", tc.micro, err, tc.want)
		}
	}
}

// TestScoringTemperature: an explicit temperature wins; otherwise the one
// the reference records it was trained at; a reference that records none
// is an error naming the field.
func TestScoringTemperature(t *testing.T) {
	ref := t.TempDir()
	cfg := DefaultConfig()
	cfg.Reference = ref
	if _, err := ScoringTemperature(cfg); err == nil || !strings.Contains(err.Error(), "temperature") || !strings.Contains(err.Error(), train.RecipeFile) {
		t.Errorf("no recipe: %v", err)
	}
	recipe := train.DefaultConfig()
	recipe.Temperature = 0.07
	b, _ := json.Marshal(recipe)
	if err := os.WriteFile(filepath.Join(ref, train.RecipeFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ScoringTemperature(cfg); err != nil || got != 0.07 {
		t.Errorf("from the reference: %v, %v; want 0.07", got, err)
	}
	cfg.Temperature = 0.002
	if got, err := ScoringTemperature(cfg); err != nil || got != 0.002 {
		t.Errorf("explicit: %v, %v; want 0.002", got, err)
	}
}
