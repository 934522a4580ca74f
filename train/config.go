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

// StepRecipe is what every training stage shares (reference, tDRO's proxy,
// each transfer): how many steps of which batches, the loss, the optimizer
// and checkpointing. It holds hyperparameters only; models, data, outputs
// and seeds are the caller's wiring (Config, dro.Config, the pipeline).
type StepRecipe struct {
	Steps         int `json:"steps" help:"optimisation steps"`
	BatchSize     int `json:"batch_size" help:"queries per step; each brings 1 positive and --negatives hard negatives"`
	Negatives     int `json:"negatives" help:"hard negatives per query"`
	QueryMaxLen   int `json:"query_max_len" help:"query tokens (instruction included)"`
	PassageMaxLen int `json:"passage_max_len" help:"passage tokens"`

	LossConfig
	OptimizerConfig
	GradCacheChunk int `json:"grad_cache_chunk,omitempty" help:"gradient cache: rows per encoder call (0: whole batch, no cache)"`

	CheckpointEvery int `json:"checkpoint_every" help:"steps between checkpoints (0: only at the end and on interrupt)"`
}

// Recipe is a contrastive training stage's hyperparameters (stage 0 and
// each stage-2 mixture).
type Recipe struct {
	StepRecipe
	// Mixing is how each batch's domain is drawn: static ("" or "static":
	// the mixture's weights) or odm (online data mixing, adapted during the
	// run; ODMRewardScale is then required).
	Mixing         string      `json:"mixing,omitempty" help:"domain sampling: static (the mixture's weights) or odm (EXP3 bandit on the batch loss during training, Albalak et al. 2023)"`
	ODMRewardScale float64     `json:"odm_reward_scale,omitempty" help:"odm: rewards are batch loss / this (the ODM code divides LM losses by 10)"`
	LoRA           *model.LoRA `json:"lora,omitempty" help:"LoRA adapters as JSON, e.g. {\"r\": 8}: only they train (PEFT's names: r, lora_alpha, lora_dropout, target_modules)"`
}

// Config is one training run, as JSON (`tdro train --config FILE`): the
// recipe plus its wiring.
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

	Recipe

	Seed uint64 `json:"seed"` // model init, sampling, dropout
	Out  string `json:"out"`  // run directory: checkpoint, log, final model
}

// DefaultRecipe is the embedded default's training recipe: a tiny BERT from
// scratch, small enough for two CPU cores.
func DefaultRecipe() Recipe {
	return Recipe{StepRecipe: StepRecipe{
		Steps: 200, BatchSize: 16, Negatives: 3, QueryMaxLen: 32, PassageMaxLen: 128,
		LossConfig:      LossConfig{Temperature: 0.05, Similarity: Cosine},
		OptimizerConfig: OptimizerConfig{LearningRate: 5e-4, WarmupSteps: 20, Decay: DecayCosine, MinLRRatio: 0.1, WeightDecay: 0.01, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, ClipNorm: 1},
		CheckpointEvery: 50,
	}}
}

// DefaultConfig is DefaultRecipe on the tiny-bert preset, seed 1.
func DefaultConfig() Config {
	return Config{Model: "tiny-bert", Recipe: DefaultRecipe(), Seed: 1}
}

// LoadConfig reads a JSON config over DefaultConfig (see ReadConfigFile).
func LoadConfig(path string) (Config, error) {
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
// It changes nothing.
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
	if err := c.Recipe.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid training config: %w", errors.Join(errs...))
	}
	return nil
}

// Validate checks the recipe's fields; it changes nothing.
func (r *Recipe) Validate() error {
	errs := []error{r.StepRecipe.Validate(0)}
	switch r.Mixing {
	case "", MixingStatic:
		if r.ODMRewardScale != 0 {
			errs = append(errs, errors.New("odm_reward_scale: set, but mixing is static"))
		}
	case MixingODM:
		if !(r.ODMRewardScale > 0) {
			errs = append(errs, fmt.Errorf("odm_reward_scale: must be > 0 with mixing odm, got %v", r.ODMRewardScale))
		}
	default:
		errs = append(errs, fmt.Errorf("mixing: unknown %q (want %q or %q)", r.Mixing, MixingStatic, MixingODM))
	}
	return errors.Join(errs...)
}

// Validate checks the shared fields, with at least minNegatives hard
// negatives per query, naming each bad field; it changes nothing.
func (r *StepRecipe) Validate(minNegatives int) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if r.Steps <= 0 {
		bad("steps", "must be > 0, got %d", r.Steps)
	}
	if r.BatchSize <= 0 {
		bad("batch_size", "must be > 0, got %d", r.BatchSize)
	}
	if r.Negatives < minNegatives {
		bad("negatives", "must be >= %d, got %d", minNegatives, r.Negatives)
	}
	if r.QueryMaxLen <= 0 {
		bad("query_max_len", "must be > 0, got %d", r.QueryMaxLen)
	}
	if r.PassageMaxLen <= 0 {
		bad("passage_max_len", "must be > 0, got %d", r.PassageMaxLen)
	}
	if r.GradCacheChunk < 0 {
		bad("grad_cache_chunk", "must be >= 0, got %d", r.GradCacheChunk)
	}
	if r.CheckpointEvery < 0 {
		bad("checkpoint_every", "must be >= 0, got %d", r.CheckpointEvery)
	}
	if err := r.LossConfig.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := r.OptimizerConfig.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
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
