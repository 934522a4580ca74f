package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
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
func BuildModel(name, tokenizer string, lora *model.LoRA, seed uint64) (*model.Model, error) {
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

// NewHook makes a loop hook for the model being trained.
type NewHook func(m *model.Model) Hook

// Run trains a model with the contrastive recipe and writes, under cfg.Out,
// checkpoint.bin (every cfg.CheckpointEvery steps, atomically), log.jsonl and,
// at the end, the Hugging Face checkpoint model/. With resume it continues
// from the checkpoint and ends with the same weights as an uninterrupted run.
// Cancelling ctx saves a checkpoint and returns an error wrapping
// ErrInterrupted. Each of hooks is given the model being trained and
// returns a Hook that runs after every step (e.g. an evaluation every N
// steps with EveryNSteps).
func Run(ctx context.Context, cfg Config, resume bool, hooks ...NewHook) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if resume {
		if err := checkResume(cfg); err != nil {
			return nil, err
		}
	}
	domains, err := LoadDomains(cfg.Mixture, cfg.Domains)
	if err != nil {
		return nil, err
	}
	sampler, err := NewSampler(domains, SamplerConfig{BatchSize: cfg.BatchSize, Negatives: cfg.Negatives, Seed: cfg.Seed})
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
	if err := m.Store.SetRNGStateFromSeed(int64(cfg.Seed)); err != nil {
		return nil, err
	}
	tr, err := NewTrainer(be, m.Store, m, StepConfig{Loss: cfg.LossConfig, Optimizer: cfg.OptimizerConfig, GradCacheChunk: cfg.GradCacheChunk})
	if err != nil {
		return nil, err
	}
	loop := &Loop{Dir: cfg.Out, Steps: cfg.Steps, CheckpointEvery: cfg.CheckpointEvery, Store: m.Store, Sampler: sampler, Name: "train"}
	odm, err := onlineMixing(cfg, sampler, loop)
	if err != nil {
		return nil, err
	}
	for _, h := range hooks {
		loop.Hooks = append(loop.Hooks, h(m))
	}
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
		if odm != nil {
			if err := odm.step(b.Domain, sr.Loss, i+1); err != nil {
				return nil, err
			}
		}
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

// TrainedRecipe is the recipe a model in dir was trained with, from its
// RecipeFile; ok is false when dir has none (a checkpoint tdro did not
// train).
func TrainedRecipe(dir string) (recipe Recipe, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, RecipeFile))
	if errors.Is(err, os.ErrNotExist) {
		return Recipe{}, false, nil
	}
	if err != nil {
		return Recipe{}, false, err
	}
	var cfg Config
	if err := data.DecodeJSON(b, &cfg); err != nil {
		return Recipe{}, false, fmt.Errorf("%s: %w", filepath.Join(dir, RecipeFile), err)
	}
	return cfg.Recipe, true, nil
}

// writeConfig records the effective configuration next to the run, its
// paths relative to the file (as ReadConfig reads them), so that
// `tdro train --config OUT/train_config.json --resume` works from any
// working directory.
func writeConfig(cfg Config) error {
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return err
	}
	dir, err := filepath.Abs(cfg.Out)
	if err != nil {
		return err
	}
	paths := []*string{&cfg.Tokenizer, &cfg.Mixture, &cfg.Out}
	if !isPreset(cfg.Model) {
		paths = append(paths, &cfg.Model)
	}
	for _, p := range paths {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		if *p, err = filepath.Rel(dir, abs); err != nil {
			*p = abs
		}
	}
	return atomicfile.WriteJSON(filepath.Join(dir, "train_config.json"), cfg)
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

// ResumeMayChange are the settings a resumed run may change: how often it
// checkpoints, and its length (the learning-rate schedule is then
// recomputed over the new total, so the result is no longer that of an
// uninterrupted run of either length; resume_history.json records it).
var ResumeMayChange = []string{"checkpoint_every", "steps"}

// checkResume compares cfg with the train_config.json of the run it
// resumes: any other changed setting is an error listing every
// difference, since the checkpoint was trained with the recorded ones.
func checkResume(cfg Config) error {
	path := filepath.Join(cfg.Out, "train_config.json")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil // nothing recorded yet: a fresh start or a checkpoint-less run
	}
	old, err := LoadConfig(path)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	diffs, err := configDiff(old, cfg)
	if err != nil {
		return err
	}
	var bad []string
	var allowed []map[string]any
	for _, d := range diffs {
		if slices.Contains(ResumeMayChange, d.field) {
			allowed = append(allowed, map[string]any{"field": d.field, "from": d.old, "to": d.new})
		} else {
			bad = append(bad, d.String())
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("resume %s: the run was trained with other settings (%s); resume with the recorded ones or start a new --out (only %s may change on resume)",
			cfg.Out, strings.Join(bad, "; "), strings.Join(ResumeMayChange, ", "))
	}
	if len(allowed) == 0 {
		return nil
	}
	histPath := filepath.Join(cfg.Out, "resume_history.json")
	var hist []map[string]any
	if b, err := os.ReadFile(histPath); err == nil {
		json.Unmarshal(b, &hist)
	}
	hist = append(hist, allowed...)
	return atomicfile.WriteJSON(histPath, hist)
}

type settingDiff struct {
	field    string
	old, new any
}

func (d settingDiff) String() string { return fmt.Sprintf("%s: %v -> %v", d.field, d.old, d.new) }

// configDiff lists the JSON fields in which two configs differ, paths
// compared as absolute paths.
func configDiff(a, b Config) ([]settingDiff, error) {
	flat := func(c Config) (map[string]any, error) {
		for _, p := range []*string{&c.Tokenizer, &c.Mixture, &c.Out, &c.Model} {
			if *p != "" && (p != &c.Model || !isPreset(c.Model)) {
				abs, err := filepath.Abs(*p)
				if err != nil {
					return nil, err
				}
				*p = abs
			}
		}
		raw, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		return m, json.Unmarshal(raw, &m)
	}
	ma, err := flat(a)
	if err != nil {
		return nil, err
	}
	mb, err := flat(b)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for k := range ma {
		keys[k] = true
	}
	for k := range mb {
		keys[k] = true
	}
	var out []settingDiff
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if !reflect.DeepEqual(ma[k], mb[k]) {
			out = append(out, settingDiff{k, ma[k], mb[k]})
		}
	}
	return out, nil
}
