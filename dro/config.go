package dro

import (
	"fmt"

	"github.com/tdro/tdro/train"
)

// Which weights the top-percent selection files are built from.
const (
	SelectCurr = "curr"
	SelectMean = "mean"
	SelectEMA  = "ema"
)

// Config is a tDRO run (stage 1 of the pipeline). As in train.Config, the
// loss fields (temperature, similarity), the optimizer fields
// (learning_rate, warmup_steps, ...) and the weight-update fields (measure,
// absent, eta, smoothing, ema) sit at the top level of the JSON.
type Config struct {
	Mixture   string `json:"mixture"`             // domains to weight (their mixture weights are ignored: tDRO samples uniformly)
	Base      string `json:"base"`                // checkpoint dir the proxy starts from, or a model preset (random init, seeded)
	Tokenizer string `json:"tokenizer,omitempty"` // for a preset base; default: the reference's tokenizer
	Reference string `json:"reference"`           // checkpoint dir of the frozen reference model (stage-0 output)
	Out       string `json:"out"`                 // output directory

	Steps         int    `json:"steps"`
	BatchSize     int    `json:"batch_size"` // examples per step, domains mixed
	Negatives     int    `json:"negatives"`  // hard negatives per example (official: 7)
	QueryMaxLen   int    `json:"query_max_len"`
	PassageMaxLen int    `json:"passage_max_len"`
	Seed          uint64 `json:"seed"`

	// Loss of proxy and reference: InfoNCE over each example's own positive
	// and hard negatives (hard_negatives_only must stay true: in mixed
	// batches other examples may be false negatives). Official: cos, temperature
	// 0.002 in every stage. Temperature 0 (the default) scores at the
	// temperature the reference was trained at, read from its
	// train.RecipeFile: scoring a model at a temperature it was not trained
	// at distorts its losses and so the weights.
	train.LossConfig
	train.OptimizerConfig     // the proxy's AdamW and schedule
	GradCacheChunk        int `json:"grad_cache_chunk,omitempty"` // rows per encoder call; 0 = whole batch
	// MicroBatches is the official run's gradient_accumulation_steps: the
	// batch is scored as this many micro-batches whose mean score makes one
	// weight update; every micro-batch but the last is weighted with the
	// alpha from before the update (Learner.Step), and the proxy's gradient
	// is the mean of their weighted losses. Set grad_cache_chunk as well to bound the proxy's
	// memory by a chunk rather than the whole batch.
	MicroBatches int `json:"micro_batches,omitempty"`

	UpdateConfig

	CheckpointEvery int    `json:"checkpoint_every"` // steps between checkpoints (the last step always saves)
	SelectFrom      string `json:"select_from"`      // curr, mean or ema: source of the top{20..90} files
}

// DefaultConfig is the official tDRO recipe scaled to the embedded default
// (a small model on two CPU cores).
func DefaultConfig() Config {
	opt := train.DefaultOptimizer()
	opt.LearningRate = 1e-4
	return Config{
		Steps: 20, BatchSize: 16, Negatives: 7, QueryMaxLen: 32, PassageMaxLen: 64, Seed: 42,
		LossConfig:      train.LossConfig{Similarity: train.Cosine, HardNegativesOnly: true},
		OptimizerConfig: opt,
		UpdateConfig:    UpdateConfig{}.WithDefaults(),
		CheckpointEvery: 10,
		SelectFrom:      SelectCurr,
	}
}

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
	checks := []struct {
		bad   bool
		field string
		msg   string
	}{
		{c.Mixture == "", "mixture", "is required"},
		{c.Base == "", "base", "is required (the model the proxy starts from)"},
		{c.Reference == "", "reference", "is required (the stage-0 reference model)"},
		{c.Out == "", "out", "is required"},
		{c.Steps <= 0, "steps", fmt.Sprintf("must be > 0, got %d", c.Steps)},
		{c.BatchSize <= 0, "batch_size", fmt.Sprintf("must be > 0, got %d", c.BatchSize)},
		{c.Negatives <= 0, "negatives", fmt.Sprintf("must be > 0 (InfoNCE needs hard negatives), got %d", c.Negatives)},
		{c.QueryMaxLen <= 0, "query_max_len", fmt.Sprintf("must be > 0, got %d", c.QueryMaxLen)},
		{c.PassageMaxLen <= 0, "passage_max_len", fmt.Sprintf("must be > 0, got %d", c.PassageMaxLen)},
		{c.CheckpointEvery < 0, "checkpoint_every", fmt.Sprintf("must be >= 0, got %d", c.CheckpointEvery)},
		{c.GradCacheChunk < 0, "grad_cache_chunk", fmt.Sprintf("must be >= 0, got %d", c.GradCacheChunk)},
		{c.MicroBatches < 0, "micro_batches", fmt.Sprintf("must be >= 0, got %d", c.MicroBatches)},
		{c.MicroBatches > 1 && c.BatchSize%c.MicroBatches != 0, "micro_batches",
			fmt.Sprintf("must divide batch_size %d, got %d", c.BatchSize, c.MicroBatches)},
		{!c.HardNegativesOnly, "hard_negatives_only", "must be true: tDRO scores each example against its own positive and hard negatives only (in a batch mixing domains, other examples' passages may be false negatives)"},
		{c.SelectFrom != SelectCurr && c.SelectFrom != SelectMean && c.SelectFrom != SelectEMA,
			"select_from", fmt.Sprintf("must be %q, %q or %q, got %q", SelectCurr, SelectMean, SelectEMA, c.SelectFrom)},
	}
	for _, ch := range checks {
		if ch.bad {
			return fmt.Errorf("config field %s %s", ch.field, ch.msg)
		}
	}
	loss := c.LossConfig
	if loss.Temperature == 0 { // the reference's, resolved by Run
		loss.Temperature = 1
	}
	if err := loss.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.OptimizerConfig.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.UpdateConfig.WithDefaults().Validate(); err != nil {
		return fmt.Errorf("config field %w", err)
	}
	return nil
}
