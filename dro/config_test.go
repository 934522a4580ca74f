package dro

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		{-1, "micro_batches must be >= 0"},
		{3, "micro_batches must divide batch_size 16"},
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
