package dro

import (
	"errors"
	"fmt"

	"github.com/tdro/tdro/train"
)

// Which weights the top-percent selection files are built from.
const (
	SelectCurr = "curr"
	SelectMean = "mean"
	SelectEMA  = "ema"
)

// Recipe is tDRO's hyperparameters (stage 1): the proxy's training steps
// (train.StepRecipe), the micro-batching and the weight update. As in
// train.Recipe, the loss, optimizer and update fields sit at the top level
// of the JSON.
//
// The loss of proxy and reference is InfoNCE over each example's own
// positive and hard negatives (hard_negatives_only must stay true: in mixed
// batches other examples may be false negatives). Official: cos, temperature
// 0.002 in every stage. Temperature 0 (the default) scores at the
// temperature the reference was trained at, read from its train.RecipeFile:
// scoring a model at a temperature it was not trained at distorts its losses
// and so the weights.
type Recipe struct {
	train.StepRecipe
	// Learner names the weight learner (RegisterLearner); "tdro" is the
	// paper's exponentiated-gradient ascent, configured by UpdateConfig.
	Learner string `json:"learner" help:"domain-weight learner: tdro (the paper) or doremi (DoReMi: excess loss, no clip, averaged weights)"`
	// MicroBatches is the official run's gradient_accumulation_steps: the
	// batch is scored as this many micro-batches whose mean score makes one
	// weight update; every micro-batch but the last is weighted with the
	// alpha from before the update (Learner.Step), and the proxy's gradient
	// is the mean of their weighted losses. Set grad_cache_chunk as well to
	// bound the proxy's memory by a chunk rather than the whole batch.
	MicroBatches int `json:"micro_batches,omitempty" help:"gradient-accumulation micro-batches per step: their mean score makes one weight update, the earlier ones weighted with the alpha from before it (official gradient_accumulation_steps)"`

	UpdateConfig

	SelectFrom string `json:"select_from" help:"weights the top{20..90} files select from: curr, mean or ema"`
}

// Config is a tDRO run: the recipe plus its wiring.
type Config struct {
	Mixture   string `json:"mixture"`             // domains to weight (their mixture weights are ignored: tDRO samples uniformly)
	Base      string `json:"base"`                // checkpoint dir the proxy starts from, or a model preset (random init, seeded)
	Tokenizer string `json:"tokenizer,omitempty"` // for a preset base; default: the reference's tokenizer
	Reference string `json:"reference"`           // checkpoint dir of the frozen reference model (stage-0 output)
	Out       string `json:"out"`                 // output directory
	Seed      uint64 `json:"seed"`                // sampling, preset init, dropout

	Recipe
}

// DefaultRecipe is the official tDRO recipe scaled to the embedded default
// (a small model on two CPU cores).
func DefaultRecipe() Recipe {
	opt := train.DefaultOptimizer()
	opt.LearningRate = 1e-4
	return Recipe{
		StepRecipe: train.StepRecipe{
			Steps: 20, BatchSize: 16, Negatives: 7, QueryMaxLen: 32, PassageMaxLen: 64,
			LossConfig:      train.LossConfig{Similarity: train.Cosine, HardNegativesOnly: true},
			OptimizerConfig: opt,
			CheckpointEvery: 10,
		},
		Learner:      LearnerTDRO,
		UpdateConfig: UpdateConfig{}.WithDefaults(),
		SelectFrom:   SelectCurr,
	}
}

// DefaultConfig is DefaultRecipe with seed 42.
func DefaultConfig() Config { return Config{Recipe: DefaultRecipe(), Seed: 42} }

// LoadConfig reads a JSON config file over DefaultConfig (fields the file
// leaves out keep their defaults; unknown fields are errors; relative paths
// are relative to the file, as in train.ReadConfigFile).
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	err := train.ReadConfigFile(path, &cfg, &cfg.Base, &cfg.Mixture, &cfg.Reference, &cfg.Tokenizer, &cfg.Out)
	return cfg, err
}

// Validate checks everything that can be checked before loading data and
// models, naming the config field. It changes nothing: a setting tDRO
// cannot honour is an error, not silently replaced.
func (c *Config) Validate() error {
	var errs []error
	for _, w := range []struct{ field, value, msg string }{
		{"mixture", c.Mixture, "is required"},
		{"base", c.Base, "is required (the model the proxy starts from)"},
		{"reference", c.Reference, "is required (the stage-0 reference model)"},
		{"out", c.Out, "is required"},
	} {
		if w.value == "" {
			errs = append(errs, fmt.Errorf("%s: %s", w.field, w.msg))
		}
	}
	if err := c.Recipe.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid tDRO config: %w", errors.Join(errs...))
	}
	return nil
}

// Validate checks the recipe's fields; it changes nothing.
func (r *Recipe) Validate() error {
	step := r.StepRecipe
	if step.Temperature == 0 { // the reference's, resolved by Run
		step.Temperature = 1
	}
	errs := []error{step.Validate(1)}
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch {
	case r.MicroBatches < 0:
		bad("micro_batches", "must be >= 0, got %d", r.MicroBatches)
	case r.MicroBatches > 1 && r.BatchSize%r.MicroBatches != 0:
		bad("micro_batches", "must divide batch_size %d, got %d", r.BatchSize, r.MicroBatches)
	}
	if !r.HardNegativesOnly {
		bad("hard_negatives_only", "must be true: tDRO scores each example against its own positive and hard negatives only (in a batch mixing domains, other examples' passages may be false negatives)")
	}
	if r.SelectFrom != SelectCurr && r.SelectFrom != SelectMean && r.SelectFrom != SelectEMA {
		bad("select_from", "must be %q, %q or %q, got %q", SelectCurr, SelectMean, SelectEMA, r.SelectFrom)
	}
	if err := checkLearner(r.Learner); err != nil {
		errs = append(errs, err)
	}
	if err := r.UpdateConfig.WithDefaults().Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
