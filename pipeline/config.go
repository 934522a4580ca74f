package pipeline

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tdro/tdro/configs"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/dro"
	"github.com/tdro/tdro/tokenize"
	"github.com/tdro/tdro/train"
)

// Config is the whole job of `tdro run`. Presets live in configs/*.json;
// a user's file is decoded over a preset, so it lists only what differs.
type Config struct {
	Seed uint64 `json:"seed"`
	// Seeds, when set, replicates the run: every stage runs once per seed
	// (the top-level seed is then unused) and the study stage compares each
	// mixture with uniform across them.
	Seeds   []uint64      `json:"seeds,omitempty"`
	Prepare PrepareConfig `json:"prepare"`
	Model   ModelConfig   `json:"model"`
	Train   train.Recipe  `json:"train"` // stage 0 (reference, uniform) and stage 2 (each mixture); the pipeline wires model, data, output and seed
	DRO     dro.Recipe    `json:"dro"`   // stage 1; the pipeline wires base, reference, data, output and seed
	// Learners, when set, compares weight learners in one run: each of
	// them (tdro, doremi, regmix) learns its own stage-1 weights, and every
	// weight-based transfer entry is made from each (named LEARNER-NAME for
	// the learners other than dro.learner); odm adds an online-mixing run.
	Learners []string `json:"learners,omitempty"`
	// RegMix are the settings of the regmix learner.
	RegMix *RegMixConfig `json:"regmix,omitempty"`
	// Pretrain, when set, adds a contrastive pre-training on crops of the
	// training passages before stage 0 (docs/pipeline.md).
	Pretrain *PretrainConfig  `json:"pretrain,omitempty"`
	Transfer []TransferConfig `json:"transfer"`
	Eval     EvalConfig       `json:"eval"`
	// Executor says where the stages run: here, one after another, or as
	// Slurm jobs (docs/cluster.md). It changes no stage's result.
	Executor ExecutorConfig `json:"executor,omitzero"`
}

// PrepareConfig says which training data the run uses.
type PrepareConfig struct {
	// Mixture, when set, is the user's own mixture file (records already
	// prepared, e.g. by `tdro data prepare` or `tdro data import`); the
	// bundled data is then used for evaluation only.
	Mixture string `json:"mixture,omitempty"`
	// MaxRecords caps each bundled domain (0: all records).
	MaxRecords int `json:"max_records_per_domain"`
	// Negatives is the number of BM25 hard negatives mined per record.
	Negatives int `json:"negatives"`
	// SkipBad skips malformed source items (counted in the prepare log)
	// instead of failing; the bundled sources have a few.
	SkipBad bool `json:"skip_bad"`
	// Domains keeps only these bundled domains (empty: all).
	Domains []string `json:"domains,omitempty"`
	// DedupAgainst says which evaluation queries training queries are
	// deduplicated against: "bundled" (every bundled set and the run's own
	// sets given by path, the default: no evaluation set can leak into
	// training) or "run" (only the sets this
	// run evaluates on, for data that repeats a bundled set on purpose, as
	// the planted benchmark does).
	DedupAgainst string `json:"dedup_against,omitempty"`
	// HeldOut holds this many records of every domain out of all training
	// (a seeded choice, data/heldout/) and scores every model on them:
	// in-domain retrieval, the split to tune a recipe on without looking at
	// the evaluation sets (0: none).
	HeldOut int `json:"heldout_per_domain,omitempty"`
	// HeldOutFrom says where the held-out records are drawn from: "sample"
	// (the default: from the max_records_per_domain sample, so another cap
	// holds out other records) or "source" (from the deduplicated source
	// before the sample: the same records for every cap, so recipes that
	// differ in it compare on one test).
	HeldOutFrom string `json:"heldout_from,omitempty"`
	// Remine, when set, replaces the BM25 negatives with ones a trained
	// dense retriever mines (the paper's recipe): a "retriever" model is
	// trained with the train recipe on the BM25-mined uniform mixture, it
	// re-mines every domain (stage "mine"), and stage 0, stage 1 and every
	// fine-tuning train on the re-mined records.
	Remine *RemineConfig `json:"remine,omitempty"`
}

// RemineConfig is the dense re-mining of the training records.
type RemineConfig struct {
	Negatives int `json:"negatives,omitempty"` // per record (0: prepare.negatives)
	// KeepOwn keeps a seeded sample of the records' previous negatives
	// first (datasets' own, such as contradictions, and BM25's); the
	// paper replaces them all.
	KeepOwn bool `json:"keep_own,omitempty"`
}

// negatives is how many negatives the mine stage writes per record.
func (r RemineConfig) negatives(p PrepareConfig) int { return cmp.Or(r.Negatives, p.Negatives) }

// trainingMixture is the mixture stages 0, 1 and the transfers read, and
// the stage that writes it: prepare's, or the mine stage's re-mined one.
func (c *Config) trainingMixture() (file, stage string) {
	if c.Prepare.Remine != nil {
		return minedMixtureFile, mineStageName
	}
	return mixtureFile, "prepare"
}

// Where prepare.heldout_per_domain's records come from.
const (
	HeldOutFromSample = "sample"
	HeldOutFromSource = "source"
)

// The evaluation queries prepare deduplicates against.
const (
	DedupBundled = "bundled"
	DedupRun     = "run"
)

// ModelConfig is the model every stage starts from: a user's Hugging Face
// checkpoint (Init) or a small model trained from scratch (Preset with a
// tokenizer).
type ModelConfig struct {
	Init      string `json:"init,omitempty"`      // HF checkpoint directory (config.json, *.safetensors, tokenizer.json)
	Preset    string `json:"preset,omitempty"`    // from scratch: a model.Preset name (tiny-bert, small-bert, tiny-llama, tiny-qwen2)
	Tokenizer string `json:"tokenizer,omitempty"` // from scratch: tokenizer.json or its directory; relative paths are under the data directory
	// Vocabulary, instead of Tokenizer, fits a WordPiece vocabulary to the
	// run's own training records (a "tokenizer" stage after prepare; the
	// held-out records are not among them).
	Vocabulary *VocabularyConfig `json:"vocabulary,omitempty"`
}

// VocabularyConfig is a vocabulary fitted to the training data (tdro
// tokenizer train); a field left 0 takes tokenize.DefaultTrainOptions' value.
type VocabularyConfig struct {
	Size            int  `json:"size"`                         // tokens, the 5 special ones included
	MinFrequency    int  `json:"min_frequency,omitempty"`      // rarer characters and merges are left out
	LimitAlphabet   int  `json:"limit_alphabet,omitempty"`     // most frequent characters kept
	MaxCharsPerWord int  `json:"max_chars_per_word,omitempty"` // longer words are [UNK]
	Cased           bool `json:"cased,omitempty"`              // keep case (default: lowercase)
	// AlphabetFrom is a tokenizer whose characters all stay in the
	// vocabulary (relative paths are under the data directory): scripts
	// the training data lacks are spelt out, not lost to [UNK].
	AlphabetFrom string `json:"alphabet_from,omitempty"`
}

// options are the trainer's settings.
func (v VocabularyConfig) options() tokenize.TrainOptions {
	o := tokenize.DefaultTrainOptions()
	o.Lowercase = !v.Cased
	for _, f := range []struct {
		dst *int
		v   int
	}{{&o.VocabSize, v.Size}, {&o.MinFrequency, v.MinFrequency},
		{&o.LimitAlphabet, v.LimitAlphabet}, {&o.MaxCharsPerWord, v.MaxCharsPerWord}} {
		if f.v != 0 {
			*f.dst = f.v
		}
	}
	return o
}

// TransferConfig is one stage-2 mixture: made from the learned weights
// (top-k, bottom-k, ratio, loss-reweight) or a size-based baseline that
// uses none (proportional, temperature), trained with the same recipe.
type TransferConfig struct {
	Name        string       `json:"name"` // e.g. top70, ratio
	Strategy    dro.Strategy `json:"strategy"`
	Percent     float64      `json:"percent,omitempty"`     // top-k, bottom-k
	Temperature float64      `json:"temperature,omitempty"` // temperature: p ∝ n^(1/T)
	// ODMRewardScale: strategy odm (online data mixing: the uniform mixture,
	// its weights adapted during fine-tuning by an EXP3 bandit on the batch
	// loss); rewards are loss / this.
	ODMRewardScale float64 `json:"odm_reward_scale,omitempty"`
	// Learner is whose weights a weight-based entry uses: tdro, doremi or
	// regmix ("": dro.learner's, the "dro" stage).
	Learner string `json:"learner,omitempty"`
}

// StrategyODM is the transfer entry that trains with online data mixing
// instead of a mixture from the tDRO weights.
const StrategyODM dro.Strategy = "odm"

// EvalConfig is the evaluation of every model (and BM25).
type EvalConfig struct {
	// Sets are bundled evaluation set names or the user's own sets by path
	// (BEIR folder, SMART folder, XQuAD-R file, QUESTIONS.json:SENTENCES.json;
	// relative to the config file); empty: every bundled set.
	Sets []string `json:"sets,omitempty"`
	// Instruction is the query instruction of the sets tdro knows none for
	// (without one, their queries are encoded plainly, with a warning).
	Instruction string `json:"instruction,omitempty"`
	MaxQueries  int    `json:"max_queries"` // per set, 0: all (first N by id order; the same for every model)
	MaxDocs     int    `json:"max_docs"`    // per set, 0: all (judged documents are always kept)
	BatchSize   int    `json:"batch_size"`
	BM25        bool   `json:"bm25"`
	// PlainQueries encodes queries without their set's instruction (for a
	// starting checkpoint trained without instructions); by default they
	// carry it, as the trainer writes them.
	PlainQueries bool `json:"plain_queries,omitempty"`
}

// LoadConfig reads a preset and, if path is not empty, the user's file over
// it, and validates the result. Unknown fields are errors (a misspelt field
// must not silently keep the preset's value).
func LoadConfig(preset, path string) (*Config, error) {
	c, err := ReadConfig(preset, path)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		where := "preset " + preset
		if path != "" {
			where = "config " + path
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return c, nil
}

// ReadConfig is LoadConfig without the validation, for callers that report
// every problem of a run at once (Check).
func ReadConfig(preset, path string) (*Config, error) {
	if preset == "" {
		preset = "default"
	}
	b, err := configs.Preset(preset)
	if err != nil {
		return nil, err
	}
	c := Config{Train: train.DefaultRecipe(), DRO: dro.DefaultRecipe()}
	if err := refuseWiring(b); err != nil {
		return nil, fmt.Errorf("preset %s: %w", preset, err)
	}
	if err := data.DecodeJSON(b, &c); err != nil {
		return nil, fmt.Errorf("preset %s: %w", preset, err)
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := refuseWiring(b); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		var user Config
		if err := data.DecodeJSON(b, &user); err != nil { // only to find the file's own paths
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		if err := data.DecodeJSON(b, &c); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		// Paths in the file are relative to the file (the preset's are not paths).
		dir := filepath.Dir(path)
		rel := func(p *string, set string) {
			if set != "" && *p == set && !filepath.IsAbs(*p) {
				*p = filepath.Join(dir, *p)
			}
		}
		rel(&c.Prepare.Mixture, user.Prepare.Mixture)
		rel(&c.Model.Init, user.Model.Init)
		if len(user.Eval.Sets) > 0 {
			for i, s := range c.Eval.Sets {
				c.Eval.Sets[i] = relativeSet(dir, s)
			}
		}
	}
	return &c, nil
}

// Validate checks what the pipeline itself needs; each stage's package
// checks its own settings before any work starts.
func (c *Config) Validate() error {
	var errs []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	check((c.Model.Init != "") != (c.Model.Preset != ""), "model: set exactly one of \"init\" (a Hugging Face checkpoint) and \"preset\" (a model trained from scratch)")
	check(c.Model.Init != "" || (c.Model.Tokenizer != "") != (c.Model.Vocabulary != nil),
		"model: set exactly one of \"tokenizer\" (a tokenizer.json) and \"vocabulary\" (one fitted to the training data) when training from scratch (over a preset, set the other to \"\" or null)")
	if v := c.Model.Vocabulary; v != nil {
		check(v.Size == 0 || v.Size > len(tokenize.Specials), "model.vocabulary.size must exceed %d", len(tokenize.Specials))
		check(v.MinFrequency >= 0 && v.LimitAlphabet >= 0 && v.MaxCharsPerWord >= 0, "model.vocabulary: min_frequency, limit_alphabet and max_chars_per_word must be >= 0")
	}
	check(c.Prepare.Negatives >= 0, "prepare.negatives must be >= 0")
	check(c.Prepare.HeldOut >= 0, "prepare.heldout_per_domain must be >= 0")
	check(c.Prepare.HeldOutFrom == "" || c.Prepare.HeldOutFrom == HeldOutFromSample || c.Prepare.HeldOutFrom == HeldOutFromSource,
		"prepare.heldout_from: want %q or %q, got %q", HeldOutFromSample, HeldOutFromSource, c.Prepare.HeldOutFrom)
	if r := c.Prepare.Remine; r != nil {
		check(r.Negatives >= 0, "prepare.remine.negatives must be >= 0")
		check(r.negatives(c.Prepare) > 0, "prepare.remine: set negatives (or prepare.negatives) > 0")
	}
	check(c.Prepare.DedupAgainst == "" || c.Prepare.DedupAgainst == DedupBundled || c.Prepare.DedupAgainst == DedupRun,
		"prepare.dedup_against: want %q or %q, got %q", DedupBundled, DedupRun, c.Prepare.DedupAgainst)
	// Each stage's recipe is checked now, before any work.
	if err := c.Train.Validate(); err != nil {
		errs = append(errs, "train: "+strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if err := c.DRO.Validate(); err != nil {
		errs = append(errs, "dro: "+strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	check(len(c.Transfer) > 0, "transfer: at least one mixture")
	seen := map[uint64]bool{}
	for _, seed := range c.Seeds {
		check(!seen[seed], "seeds: %d is listed twice", seed)
		seen[seed] = true
	}
	names := map[string]bool{referenceRun: true, "uniform": true, "bm25": true, retrieverRun: true, pretrainedRun: true}
	for i, t := range c.transfers() {
		check(t.Name != "" && !strings.ContainsAny(t.Name, `/\ `), "transfer[%d].name: must be a plain non-empty name, got %q", i, t.Name)
		check(!names[t.Name], "transfer[%d].name: %q is taken", i, t.Name)
		names[t.Name] = true
		switch t.Strategy {
		case dro.TopK, dro.BottomK:
			check(t.Percent > 0 && t.Percent <= 100, "transfer[%d].percent: must be in (0,100], got %v", i, t.Percent)
		case dro.Temperature:
			check(t.Temperature > 0, "transfer[%d].temperature: must be > 0, got %v", i, t.Temperature)
		case StrategyODM:
			check(t.ODMRewardScale > 0, "transfer[%d].odm_reward_scale: must be > 0 with strategy odm, got %v", i, t.ODMRewardScale)
		case dro.Ratio, dro.LossReweight, dro.Proportional:
		default:
			errs = append(errs, fmt.Sprintf("transfer[%d].strategy: unknown %q (want one of %v, %s, %s, %s)", i, t.Strategy, dro.Strategies, dro.Proportional, dro.Temperature, StrategyODM))
		}
	}
	check(c.Eval.BatchSize > 0, "eval.batch_size must be > 0")
	errs = append(errs, c.Executor.problems()...)
	errs = append(errs, c.RegMix.problems()...)
	errs = append(errs, c.Pretrain.problems(c.Train)...)
	errs = append(errs, c.learnerProblems()...)
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// relativeSet joins the paths of an eval.sets entry onto dir (see
// setPaths); a bundled set's name stays as it is.
func relativeSet(dir, spec string) string {
	paths := setPaths(spec)
	for i, p := range paths {
		if !filepath.IsAbs(p) {
			paths[i] = filepath.Join(dir, p)
		}
	}
	if len(paths) == 0 {
		return spec
	}
	return strings.Join(paths, ":")
}

// wiring are the stage settings the pipeline itself sets — every stage's
// model, data, output and seed — by section. The stage recipes have no such
// fields, so decoding would already refuse them as unknown; this says where
// each setting belongs instead.
var wiring = map[string]map[string]string{
	"train": {"model": `"model": {"preset"|"init"}`, "tokenizer": `"model": {"tokenizer"}`, "mixture": `"prepare": {"mixture"}`,
		"out": "--out", "seed": `the top-level "seed"`},
	"dro": {"base": `"model": {"preset"|"init"}`, "tokenizer": `"model": {"tokenizer"}`, "mixture": `"prepare": {"mixture"}`,
		"reference": "the pipeline (stage 0's model)", "out": "--out", "seed": `the top-level "seed"`},
}

func refuseWiring(doc []byte) error {
	var top map[string]map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil // not objects all the way: DecodeJSON has said what is wrong
	}
	var errs []string
	for _, section := range []string{"train", "dro"} {
		for _, field := range slices.Sorted(maps.Keys(wiring[section])) {
			if _, set := top[section][field]; set {
				errs = append(errs, fmt.Sprintf("%s.%s: the pipeline sets it for every stage; use %s", section, field, wiring[section][field]))
			}
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
