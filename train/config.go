package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/model"
)

// Config is one training run, as JSON (`tdro train --config FILE`).
type Config struct {
	// Model is a preset name (model.PresetNames: trained from scratch) or a
	// Hugging Face checkpoint directory to fine-tune.
	Model string `json:"model"`
	// Tokenizer is a tokenizer.json (or a directory holding one). Required
	// for presets; a checkpoint directory brings its own.
	Tokenizer string `json:"tokenizer,omitempty"`
	// Mixture is the mixture file: domains, weights, instructions.
	Mixture string `json:"mixture"`
	// Domains, when set, trains on these mixture domains only.
	Domains []string `json:"domains,omitempty"`

	Steps         int `json:"steps"`
	BatchSize     int `json:"batch_size"` // queries per step; each brings 1 positive + Negatives passages
	Negatives     int `json:"negatives"`  // hard negatives per query
	QueryMaxLen   int `json:"query_max_len"`
	PassageMaxLen int `json:"passage_max_len"`

	LossConfig
	OptimizerConfig
	GradCacheChunk int `json:"grad_cache_chunk,omitempty"` // 0: no gradient cache

	LoRA *model.LoRA `json:"lora,omitempty"` // adapters on the target projections; only they train

	Seed            int64  `json:"seed"`
	Out             string `json:"out"`              // run directory: checkpoint, log, final model
	CheckpointEvery int    `json:"checkpoint_every"` // steps between checkpoints (0: only at the end and on interrupt)
}

// DefaultConfig is the embedded default: a tiny BERT from scratch on the
// bundled mixture, small enough for two CPU cores.
func DefaultConfig() Config {
	return Config{
		Model: "tiny-bert", Steps: 200, BatchSize: 16, Negatives: 3, QueryMaxLen: 32, PassageMaxLen: 128,
		LossConfig:      LossConfig{Temperature: 0.05, Similarity: Cosine},
		OptimizerConfig: OptimizerConfig{LearningRate: 5e-4, WarmupSteps: 20, Decay: DecayCosine, MinLRRatio: 0.1, WeightDecay: 0.01, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, ClipNorm: 1},
		Seed:            1, CheckpointEvery: 50,
	}
}

// ReadConfig reads a JSON config over DefaultConfig (see ReadConfigFile).
func ReadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	err := ReadConfigFile(path, &cfg, &cfg.Model, &cfg.Tokenizer, &cfg.Mixture, &cfg.Out)
	return cfg, err
}

// ReadConfigFile decodes the JSON config file at path over cfg, which holds
// the defaults: fields the file leaves out keep them, and unknown fields are
// errors (data.DecodeJSON). Paths in the file are relative to it: each of
// paths that is set and relative comes back joined to the file's directory,
// and so does *modelPath unless it names a model preset.
func ReadConfigFile(path string, cfg any, modelPath *string, paths ...*string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := data.DecodeJSON(b, cfg); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if !isPreset(*modelPath) {
		paths = append(paths, modelPath)
	}
	for _, p := range paths {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(filepath.Dir(path), *p)
		}
	}
	return nil
}

func isPreset(name string) bool {
	for _, p := range model.PresetNames {
		if p == name {
			return true
		}
	}
	return false
}

// Validate checks everything that needs no files, naming the JSON field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Model == "" {
		bad("model", "empty (a preset: %s, or a Hugging Face checkpoint directory)", strings.Join(model.PresetNames, ", "))
	}
	if isPreset(c.Model) && c.Tokenizer == "" {
		bad("tokenizer", "a preset model needs a tokenizer.json")
	}
	if c.Mixture == "" {
		bad("mixture", "empty")
	}
	if c.Out == "" {
		bad("out", "empty")
	}
	if c.Steps <= 0 {
		bad("steps", "must be > 0, got %d", c.Steps)
	}
	if c.BatchSize <= 0 {
		bad("batch_size", "must be > 0, got %d", c.BatchSize)
	}
	if c.Negatives < 0 {
		bad("negatives", "must be >= 0, got %d", c.Negatives)
	}
	if c.QueryMaxLen <= 0 {
		bad("query_max_len", "must be > 0, got %d", c.QueryMaxLen)
	}
	if c.PassageMaxLen <= 0 {
		bad("passage_max_len", "must be > 0, got %d", c.PassageMaxLen)
	}
	if c.GradCacheChunk < 0 {
		bad("grad_cache_chunk", "must be >= 0, got %d", c.GradCacheChunk)
	}
	if c.CheckpointEvery < 0 {
		bad("checkpoint_every", "must be >= 0, got %d", c.CheckpointEvery)
	}
	if err := c.LossConfig.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.OptimizerConfig.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid training config: %w", errors.Join(errs...))
	}
	return nil
}

// LoadDomains reads a mixture and its domains' records. names, when not
// empty, selects domains (an unknown name is an error listing the known
// ones); weights come from the mixture.
func LoadDomains(mixturePath string, names []string) ([]Domain, error) {
	mix, err := data.LoadMixture(mixturePath)
	if err != nil {
		return nil, err
	}
	selected := mix.Domains
	if len(names) > 0 {
		byName := map[string]data.Domain{}
		var known []string
		for _, d := range mix.Domains {
			byName[d.Name] = d
			known = append(known, d.Name)
		}
		selected = nil
		for _, n := range names {
			d, ok := byName[n]
			if !ok {
				return nil, fmt.Errorf("domains: unknown domain %q (mixture %s has %s)", n, mixturePath, strings.Join(known, ", "))
			}
			selected = append(selected, d)
		}
	}
	out := make([]Domain, len(selected))
	for i, d := range selected {
		recs, err := data.IndexRecords(d.Path)
		if err != nil {
			return nil, fmt.Errorf("domain %q: %w", d.Name, err)
		}
		out[i] = Domain{Domain: d, Records: recs}
	}
	return out, nil
}
