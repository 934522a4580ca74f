package dro

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/tdro/tdro/backend"
	"github.com/tdro/tdro/dro/plot"
	"github.com/tdro/tdro/model"
	"github.com/tdro/tdro/train"
)

// Directories of a run's output next to train.Loop's checkpoint.bin and
// log.jsonl.
const (
	WeightsDir = "weights"     // curr_weights.json, mean_, ema_, top20_ ... top90_weights.json (FileName)
	PlotsDir   = "plots"       // PlotSteps and PlotFinal, each .png and .svg
	PlotSteps  = "alpha_steps" // alpha per domain over the steps
	PlotFinal  = "alpha_final" // final alpha per domain next to uniform (the paper's Figure 3)
)

// TopPercents are the selections written next to the weights (official).
var TopPercents = []int{20, 30, 40, 50, 60, 70, 80, 90}

// Result is what a run wrote.
type Result struct {
	Out         string
	Names       []string  // domains, in mixture order
	Steps       int       // steps done in total
	ResumedFrom int       // step the run continued from (0: fresh)
	Curr        []float64 // final alpha
	Mean        []float64 // running mean of alpha
	EMA         []float64 // EMA of alpha
	Temperature float64   // proxy and reference were scored at
}

// WeightsPath is the path of a weights file of the run: "curr", "mean",
// "ema" or "top70" (any of TopPercents).
func (r *Result) WeightsPath(kind string) string {
	return filepath.Join(r.Out, WeightsDir, FileName(kind))
}

// Run is stage 1 of the pipeline: it learns the domain weights of
// cfg.Mixture with a proxy initialised from cfg.Base and the frozen
// reference cfg.Reference, and writes under cfg.Out the checkpoint, the
// log, the weights files under the official names (weights/curr_weights.json,
// mean_weights.json, ema_weights.json, top20_weights.json ...
// top90_weights.json) and the plots. With resume it continues from
// the checkpoint in cfg.Out, ending where an uninterrupted run ends.
// Cancelling ctx saves a checkpoint and returns an error wrapping
// train.ErrInterrupted.
func Run(ctx context.Context, cfg Config, resume bool) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	domains, err := train.LoadDomains(cfg.Mixture, nil)
	if err != nil {
		return nil, err
	}
	if err := checkDomains(domains); err != nil { // before the models load
		return nil, err
	}
	ref, err := model.Load(cfg.Reference)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	if cfg.Temperature, err = ScoringTemperature(cfg); err != nil {
		return nil, err
	}
	tok := cfg.Tokenizer
	if tok == "" && slices.Contains(model.PresetNames, cfg.Base) {
		tok = cfg.Reference // the checkpoint directory holds tokenizer.json
	}
	proxy, err := train.BuildModel(cfg.Base, tok, nil, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", cfg.Base, err)
	}
	if pv, rv := proxy.Tokenizer.VocabSize(), ref.Tokenizer.VocabSize(); pv != rv {
		return nil, fmt.Errorf("base %s and reference %s tokenize differently (vocabularies of %d and %d tokens)", cfg.Base, cfg.Reference, pv, rv)
	}
	if err := proxy.Store.SetRNGStateFromSeed(int64(cfg.Seed)); err != nil {
		return nil, err
	}
	encode := func(b train.Batch) (*train.Inputs, error) {
		return train.TokenizeBatch(proxy.Tokenizer, &b, cfg.QueryMaxLen, cfg.PassageMaxLen), nil
	}
	return runWith(ctx, cfg, domains, models{proxy: proxy, proxyStore: proxy.Store, ref: ref, refStore: ref.Store, encode: encode}, resume)
}

// ScoringTemperature is the temperature proxy and reference are scored at:
// cfg's when set, otherwise the one the reference was trained at (its
// train.RecipeFile). A reference without one (a checkpoint tdro did not
// train) needs the temperature set.
func ScoringTemperature(cfg Config) (float64, error) {
	if cfg.Temperature != 0 {
		return cfg.Temperature, nil
	}
	recipe, ok, err := train.TrainedRecipe(cfg.Reference)
	if err != nil {
		return 0, fmt.Errorf("reference: %w", err)
	}
	if !ok {
		return 0, fmt.Errorf("config field temperature: not set, and the reference %s does not say what it was trained at (no %s); "+
			"set it to the reference's training temperature (the official recipe: 0.002)", cfg.Reference, train.RecipeFile)
	}
	return recipe.Temperature, nil
}

// models is what the loop needs from the proxy and reference models, so
// tests can pass stand-ins.
type models struct {
	proxy      train.Embedder
	proxyStore *gmodel.Store
	ref        train.Embedder
	refStore   *gmodel.Store
	encode     TokenizeFunc
}

// checkpointState is tDRO's part of train.State.Extra.
type checkpointState struct {
	Names   []string        `json:"names"`
	Learner json.RawMessage `json:"learner"`
}

const extraKey = "dro"

// runWith is Run once the domains are loaded and the models built. With
// resume it continues from the checkpoint in cfg.Out when there is one.
func runWith(ctx context.Context, cfg Config, domains []train.Domain, m models, resume bool) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Temperature == 0 {
		return nil, errors.New("dro: the scoring temperature is not resolved (see ScoringTemperature)")
	}
	if err := checkDomains(domains); err != nil {
		return nil, err
	}
	names := make([]string, len(domains))
	for i, d := range domains {
		names[i] = d.Name
	}
	b, err := backend.Get()
	if err != nil {
		return nil, err
	}
	sampler, err := train.NewSampler(domains, train.SamplerConfig{BatchSize: cfg.BatchSize, Negatives: cfg.Negatives, Mixed: true, Seed: cfg.Seed})
	if err != nil {
		return nil, fmt.Errorf("dro: %w", err)
	}
	proxy, err := train.NewTrainer(b, m.proxyStore, m.proxy, train.StepConfig{Loss: cfg.LossConfig, Optimizer: cfg.OptimizerConfig, GradCacheChunk: cfg.GradCacheChunk})
	if err != nil {
		return nil, fmt.Errorf("dro: proxy: %w", err)
	}
	ref, err := train.NewScorer(b, m.refStore, m.ref, cfg.LossConfig)
	if err != nil {
		return nil, fmt.Errorf("dro: reference: %w", err)
	}
	learner, err := newWeightLearner(domains, cfg.Recipe)
	if err != nil {
		return nil, fmt.Errorf("dro: %w", err)
	}
	dl := &Stepper{Names: names, Learner: learner, Sampler: sampler, Proxy: proxy, Ref: ref,
		Encode: m.encode, Optim: cfg.OptimizerConfig, Steps: cfg.Steps, MicroBatches: cfg.MicroBatches}
	loop := &train.Loop{Dir: cfg.Out, Steps: cfg.Steps, CheckpointEvery: cfg.CheckpointEvery,
		Store: m.proxyStore, Sampler: sampler, Name: "tdro dro",
		SaveExtra: func() (map[string]json.RawMessage, error) {
			state, err := learner.State()
			if err != nil {
				return nil, err
			}
			b, err := json.Marshal(checkpointState{Names: names, Learner: state})
			return map[string]json.RawMessage{extraKey: b}, err
		},
		RestoreExtra: func(extra map[string]json.RawMessage) error { return restoreLearner(extra, names, learner) },
	}
	start, err := loop.Start(resume)
	if err != nil {
		return nil, fmt.Errorf("dro: %w", err)
	}
	res := &Result{Out: cfg.Out, Names: names, ResumedFrom: start, Temperature: cfg.Temperature}
	if err := loop.Run(ctx, start, func(i int) (any, error) { return dl.Step(i) }); err != nil {
		return nil, fmt.Errorf("dro: %w", err)
	}
	history, err := readLog(loop.LogPath(), cfg.Steps)
	if err != nil {
		return nil, err
	}
	res.Steps = cfg.Steps
	w := learner.Weights()
	res.Curr, res.Mean, res.EMA = w.Curr, w.Mean, w.EMA
	sizes := make([]int, len(domains))
	for i, d := range domains {
		sizes[i] = d.Records.Len()
	}
	if err := SaveWeights(filepath.Join(res.Out, WeightsDir), res.Names, map[string][]float64{SelectCurr: res.Curr, SelectMean: res.Mean, SelectEMA: res.EMA}, sizes, cfg.SelectFrom); err != nil {
		return nil, err
	}
	if err := writePlots(res, history); err != nil {
		return nil, err
	}
	return res, nil
}

// checkDomains rejects a run with no domains or a domain with no records
// (tDRO samples every domain).
func checkDomains(domains []train.Domain) error {
	if len(domains) == 0 {
		return errors.New("dro: no domains")
	}
	for _, d := range domains {
		if d.Records == nil || d.Records.Len() == 0 {
			return fmt.Errorf("dro: domain %q (%s) has no records", d.Name, d.Path)
		}
	}
	return nil
}

// restoreLearner puts the checkpointed weights into learner after checking
// they belong to the same domains (the learner checks its own rule).
func restoreLearner(extra map[string]json.RawMessage, names []string, learner WeightLearner) error {
	raw, ok := extra[extraKey]
	if !ok {
		return errors.New("no tDRO state (a trainer checkpoint?)")
	}
	var cs checkpointState
	if err := json.Unmarshal(raw, &cs); err != nil {
		return fmt.Errorf("tDRO state: %w", err)
	}
	if !slices.Equal(cs.Names, names) {
		return fmt.Errorf("checkpoint domains %v, the mixture's %v", cs.Names, names)
	}
	if len(cs.Learner) == 0 {
		return fmt.Errorf("tDRO state has no weights for %d domains", len(names))
	}
	return learner.Restore(cs.Learner)
}

// readLog reads the run's log (steps 1..steps, one line each).
func readLog(path string, steps int) ([]*StepLog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dro: %w", err)
	}
	defer f.Close()
	var out []*StepLog
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<26)
	for line := 1; sc.Scan(); line++ {
		var s StepLog
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return nil, fmt.Errorf("dro: %s line %d: %w", path, line, err)
		}
		if s.Step != line {
			return nil, fmt.Errorf("dro: %s line %d: step %d", path, line, s.Step)
		}
		out = append(out, &s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dro: %s: %w", path, err)
	}
	if len(out) != steps {
		return nil, fmt.Errorf("dro: %s has %d steps, want %d", path, len(out), steps)
	}
	return out, nil
}

// SaveWeights writes a learner's weights as the official trainer does, into
// dir: one file per kind (curr, mean, ema: the weights each kind names) and
// the top-percent selections (TopPercents) of the kind selectFrom. Every
// learner's weights go through it, so transfer reads them all alike.
func SaveWeights(dir string, names []string, byKind map[string][]float64, sizes []int, selectFrom string) error {
	files := map[string]*WeightsFile{}
	for _, kind := range []string{SelectCurr, SelectMean, SelectEMA} {
		f, err := NewWeightsFile(names, byKind[kind], sizes)
		if err != nil {
			return fmt.Errorf("%s weights: %w", kind, err)
		}
		files[kind] = f
		if err := f.Save(filepath.Join(dir, FileName(kind))); err != nil {
			return err
		}
	}
	for _, pct := range TopPercents {
		sel, err := files[selectFrom].Selection(float64(pct))
		if err != nil {
			continue // too few domains for this percent: no file, as floor(k*pct/100) = 0
		}
		if err := sel.Save(filepath.Join(dir, FileName(fmt.Sprintf("top%d", pct)))); err != nil {
			return err
		}
	}
	return nil
}

func writePlots(res *Result, history []*StepLog) error {
	k := len(res.Names)
	steps := []int{0}
	uniform := make([]float64, k)
	for g := range uniform {
		uniform[g] = 1 / float64(k)
	}
	alpha := [][]float64{uniform}
	for _, s := range history {
		row := make([]float64, k)
		for g, name := range res.Names {
			row[g] = s.Alpha[name]
		}
		steps, alpha = append(steps, s.Step), append(alpha, row)
	}
	dir := filepath.Join(res.Out, PlotsDir)
	if err := plot.Trajectories(filepath.Join(dir, PlotSteps), "tDRO domain weights", res.Names, steps, alpha); err != nil {
		return err
	}
	return plot.Bars(filepath.Join(dir, PlotFinal), fmt.Sprintf("tDRO domain weights after %d steps", res.Steps), res.Names, res.Curr)
}
