package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tdro/tdro/backend"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/internal/atomicfile"
	"github.com/tdro/tdro/model"
	"github.com/tdro/tdro/tokenize"
)

// LogEntry is one line of a training run's log.jsonl.
type LogEntry struct {
	Step         int                `json:"step"` // updates done
	Domain       string             `json:"domain,omitempty"`
	Loss         float64            `json:"loss"`        // the optimised (weighted) loss
	DomainLoss   map[string]float64 `json:"domain_loss"` // mean unweighted InfoNCE per domain in the batch
	LR           float64            `json:"lr"`
	GradNorm     float64            `json:"grad_norm"`
	Tokens       int                `json:"tokens"`
	TokensPerSec float64            `json:"tokens_per_s"`
	Seconds      float64            `json:"step_s"`
}

// Result describes a finished (or interrupted) run.
type Result struct {
	Steps       int     // steps done
	ResumedFrom int     // steps restored from the checkpoint (0: a fresh start)
	FinalLoss   float64 // loss of the last step run in this process (0 if none)
	Model       *model.Model
	ModelDir    string // Hugging Face checkpoint of the final model
	Checkpoint  string
	Log         string
}

// BuildModel returns a model: a preset with random weights (seeded), or a
// Hugging Face checkpoint directory; tokenizer is required for presets. With
// lora, adapters are attached and only they train.
func BuildModel(name, tokenizer string, lora *model.LoRA, seed int64) (*model.Model, error) {
	var m *model.Model
	if isPreset(name) {
		tok, err := tokenize.Load(tokenizer)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		mc, err := model.Preset(name, tok.VocabSize())
		if err != nil {
			return nil, err
		}
		if m, err = model.New(mc, tok, seed); err != nil {
			return nil, err
		}
	} else {
		var err error
		if m, err = model.Load(name); err != nil {
			return nil, err
		}
	}
	if lora != nil {
		if err := m.EnableLoRA(*lora, seed); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Run trains a model with the contrastive recipe and writes, under cfg.Out,
// checkpoint.bin (every cfg.CheckpointEvery steps, atomically), log.jsonl and,
// at the end, the Hugging Face checkpoint model/. With resume it continues
// from the checkpoint and ends with the same weights as an uninterrupted run.
// Cancelling ctx saves a checkpoint and returns an error wrapping
// ErrInterrupted.
func Run(ctx context.Context, cfg Config, resume bool) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	domains, err := LoadDomains(cfg.Mixture, cfg.Domains)
	if err != nil {
		return nil, err
	}
	sampler, err := NewSampler(domains, SamplerConfig{BatchSize: cfg.BatchSize, Negatives: cfg.Negatives, Seed: uint64(cfg.Seed)})
	if err != nil {
		return nil, err
	}
	m, err := BuildModel(cfg.Model, cfg.Tokenizer, cfg.LoRA, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", cfg.Model, err)
	}
	be, err := backend.Get()
	if err != nil {
		return nil, err
	}
	if err := m.Store.SetRNGStateFromSeed(cfg.Seed); err != nil {
		return nil, err
	}
	tr, err := NewTrainer(be, m.Store, m, StepConfig{Loss: cfg.LossConfig, Optimizer: cfg.OptimizerConfig, GradCacheChunk: cfg.GradCacheChunk})
	if err != nil {
		return nil, err
	}
	loop := &Loop{Dir: cfg.Out, Steps: cfg.Steps, CheckpointEvery: cfg.CheckpointEvery, Store: m.Store, Sampler: sampler, Name: "train"}
	start, err := loop.Start(resume)
	if err != nil {
		return nil, err
	}
	if err := writeConfig(cfg); err != nil {
		return nil, err
	}
	res := &Result{Model: m, Checkpoint: loop.CheckpointPath(), Log: loop.LogPath(), Steps: start, ResumedFrom: start}
	err = loop.Run(ctx, start, func(i int) (any, error) {
		t0 := time.Now()
		b, err := sampler.Next()
		if err != nil {
			return nil, err
		}
		in := TokenizeBatch(m.Tokenizer, &b, cfg.QueryMaxLen, cfg.PassageMaxLen)
		lr := cfg.OptimizerConfig.LearningRateAt(i, cfg.Steps)
		sr, err := tr.Step(in, lr, ExampleWeights(domains, &b), nil)
		if err != nil {
			return nil, err
		}
		res.Steps, res.FinalLoss = i+1, sr.Loss
		sec := time.Since(t0).Seconds()
		tokens := in.Queries.Real() + in.Passages.Real()
		e := &LogEntry{Step: i + 1, Loss: sr.Loss, DomainLoss: DomainLosses(domains, &b, sr.PerExample),
			LR: lr, GradNorm: sr.GradNorm, Tokens: tokens, TokensPerSec: float64(tokens) / sec, Seconds: sec}
		if b.Domain >= 0 {
			e.Domain = domains[b.Domain].Name
		}
		return e, nil
	})
	if err != nil {
		return res, err
	}
	res.Steps = cfg.Steps
	res.ModelDir = filepath.Join(cfg.Out, "model")
	if err := m.Save(res.ModelDir); err != nil {
		return res, fmt.Errorf("save final model: %w", err)
	}
	if err := writeRecipe(res.ModelDir, cfg); err != nil {
		return res, fmt.Errorf("save final model: %w", err)
	}
	return res, nil
}

// RecipeFile, in a trained model's directory, is the training recipe it was
// trained with: the run's Config without its paths (model, tokenizer,
// mixture, out), so that the same training in two run directories writes
// the same bytes. tDRO reads the reference's temperature from it.
const RecipeFile = "tdro_train.json"

func writeRecipe(dir string, cfg Config) error {
	cfg.Model, cfg.Tokenizer, cfg.Mixture, cfg.Out = "", "", "", ""
	return atomicfile.WriteJSON(filepath.Join(dir, RecipeFile), cfg)
}

// TrainedLoss is the loss a model in dir was trained with, from its
// RecipeFile; ok is false when dir has none (a checkpoint tdro did not
// train).
func TrainedLoss(dir string) (loss LossConfig, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, RecipeFile))
	if errors.Is(err, os.ErrNotExist) {
		return LossConfig{}, false, nil
	}
	if err != nil {
		return LossConfig{}, false, err
	}
	var cfg Config
	if err := data.DecodeJSON(b, &cfg); err != nil {
		return LossConfig{}, false, fmt.Errorf("%s: %w", filepath.Join(dir, RecipeFile), err)
	}
	return cfg.LossConfig, true, nil
}

// writeConfig records the effective configuration next to the run.
func writeConfig(cfg Config) error {
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteJSON(filepath.Join(cfg.Out, "train_config.json"), cfg)
}

// ExampleWeights are the per-example loss weights of a batch: each domain's
// loss_scale (0 means 1) over the batch size, so the loss is a mean when no
// domain is rescaled (the loss-reweight transfer).
func ExampleWeights(domains []Domain, b *Batch) []float32 {
	w := make([]float32, len(b.Examples))
	for i, ex := range b.Examples {
		s := domains[ex.Domain].LossScale
		if s == 0 {
			s = 1
		}
		w[i] = float32(s) / float32(len(w))
	}
	return w
}

// DomainLosses averages per-example losses by domain name.
func DomainLosses(domains []Domain, b *Batch, perExample []float32) map[string]float64 {
	sum := map[string]float64{}
	n := map[string]int{}
	for i, ex := range b.Examples {
		name := domains[ex.Domain].Name
		sum[name] += float64(perExample[i])
		n[name]++
	}
	for k := range sum {
		sum[k] /= float64(n[k])
	}
	return sum
}

// TokenizeBatch tokenizes a batch's queries and passages, right-padded to a
// bucketed length (see bucket) so that few distinct shapes get compiled.
func TokenizeBatch(tok *tokenize.Tokenizer, b *Batch, queryMaxLen, passageMaxLen int) *Inputs {
	queries := make([]string, len(b.Examples))
	var passages []string
	for i, ex := range b.Examples {
		queries[i] = ex.Query
		passages = append(passages, ex.Passages...)
	}
	return &Inputs{Queries: tokens(tok, queries, queryMaxLen), Passages: tokens(tok, passages, passageMaxLen)}
}

func tokens(tok *tokenize.Tokenizer, texts []string, maxLen int) Tokens {
	rows := tok.EncodeAll(texts, maxLen)
	longest := 1
	for _, r := range rows {
		longest = max(longest, len(r))
	}
	pb := tok.Pad(rows, bucket(longest, maxLen))
	t := Tokens{Rows: len(rows), Len: len(pb.IDs[0])}
	t.IDs = make([]int32, 0, t.Rows*t.Len)
	t.Mask = make([]int32, 0, t.Rows*t.Len)
	for i := range pb.IDs {
		t.IDs = append(t.IDs, pb.IDs[i]...)
		t.Mask = append(t.Mask, pb.Mask[i]...)
	}
	return t
}

// bucket rounds a sequence length up to a power of two (at least 8), capped
// at maxLen: every distinct shape costs a graph compilation.
func bucket(n, maxLen int) int {
	b := 8
	for b < n {
		b *= 2
	}
	return max(min(b, maxLen), n)
}
