package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/dro"
	"github.com/tdro/tdro/model"
	"github.com/tdro/tdro/tokenize"
	"github.com/tdro/tdro/train"
)

// Stages builds the pipeline for opt. With one seed (no "seeds" in the
// config) it is seedStages at the run directory's top. With seeds, every
// seed runs the whole graph in its own sub-directory (seed-N/, stages named
// "seed-N.STAGE", each resumable and skippable on its own), and a study
// stage compares every mixture with uniform across the seeds.
//
// With opt.Until, only the named stages and the stages they need are kept.
func Stages(opt Options) ([]Stage, error) {
	all, err := allStages(opt)
	if err != nil || len(opt.Until) == 0 {
		return all, err
	}
	return until(all, opt.Until)
}

func allStages(opt Options) ([]Stage, error) {
	seeds := opt.Config.Seeds
	if len(seeds) == 0 {
		return seedStages(opt)
	}
	var all []Stage
	for _, seed := range seeds {
		o := opt
		c := *opt.Config
		c.Seed, c.Seeds = seed, nil
		o.Config = &c
		o.Out = filepath.Join(opt.Out, seedDir(seed))
		st, err := seedStages(o)
		if err != nil {
			return nil, fmt.Errorf("seed %d: %w", seed, err)
		}
		all = append(all, InDir(st, seedDir(seed), seedDir(seed)+".")...)
	}
	return append(all, studyStage(opt, all)), nil
}

// until keeps the stages named and, transitively, those they run after.
func until(stages []Stage, names []string) ([]Stage, error) {
	byName := map[string]*Stage{}
	for i := range stages {
		byName[stages[i].Name] = &stages[i]
	}
	keep := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		if keep[n] {
			return
		}
		keep[n] = true
		for _, a := range byName[n].After {
			visit(a)
		}
	}
	for _, n := range names {
		if byName[n] == nil {
			return nil, fmt.Errorf("--until %s: no such stage (stages: %s)", n, strings.Join(stageNames(stages), ", "))
		}
		visit(n)
	}
	var out []Stage
	for _, st := range stages {
		if keep[st.Name] {
			out = append(out, st)
		}
	}
	return out, nil
}

// seedDir is the sub-directory of one seed's stages in a study.
func seedDir(seed uint64) string { return fmt.Sprintf("seed-%d", seed) }

// seedStages builds one seed's pipeline: prepare -> reference (uniform) ->
// dro -> transfer -> one fine-tuning per mixture -> evaluation of every
// model, the untrained starting model and BM25 -> report; with pretrain
// (crops, pre-training) and prepare.remine (retriever, mine) before
// stage 0. The uniform baseline of stage 2 is the reference model itself:
// the same recipe on the uniform mixture, trained once.
func seedStages(opt Options) ([]Stage, error) {
	cfg := opt.Config
	tokenizer, err := tokenizerPath(opt)
	if err != nil {
		return nil, err
	}
	var stages []Stage
	switch {
	case cfg.Model.Init != "":
		stages = append(stages, prepareStage(opt))
	case cfg.Model.Vocabulary != nil: // the base model is built on the data's vocabulary
		prep, vocab := prepareStage(opt), fitVocabularyStage(opt, tokenizer)
		prep.Group, vocab.Group = dataGroup, dataGroup // one box in the diagram: the data and its vocabulary
		stages = append(stages, prep, vocab, baseStage(opt, tokenizer))
	default:
		stages = append(stages, baseStage(opt, tokenizer), prepareStage(opt))
	}
	if cfg.Pretrain != nil {
		pt, err := pretrainStages(opt)
		if err != nil {
			return nil, err
		}
		stages = append(stages, pt...)
	}
	if cfg.Prepare.Remine != nil {
		rm, err := remineStages(opt)
		if err != nil {
			return nil, err
		}
		stages = append(stages, rm...)
	}
	trainingMixture, mixtureStage := cfg.trainingMixture()
	ref, err := trainStage(opt, referenceRun, trainingMixture, cfg.Train, mixtureStage)
	if err != nil {
		return nil, err
	}
	stages = append(stages, ref)
	for _, l := range cfg.weightLearners() {
		if l == LearnerRegMix {
			rm, err := regmixStages(opt)
			if err != nil {
				return nil, err
			}
			stages = append(stages, rm...)
			continue
		}
		d, err := droStage(opt, l)
		if err != nil {
			return nil, err
		}
		stages = append(stages, d)
	}
	stages = append(stages, transferStage(opt, tokenizer))
	for _, t := range cfg.transfers() {
		recipe := cfg.Train
		if t.Strategy == StrategyODM { // the uniform mixture, its weights adapted while it trains
			recipe.Mixing, recipe.ODMRewardScale = train.MixingODM, t.ODMRewardScale
		}
		ft, err := trainStage(opt, t.Name, mixturePath(t.Name), recipe, "prepare", "transfer")
		if err != nil {
			return nil, err
		}
		stages = append(stages, ft)
	}
	if cfg.Eval.BM25 {
		stages = append(stages, bm25Stage(opt))
	}
	for _, m := range append(trainedRuns(cfg), baseRun) {
		e, err := evalStage(opt, m)
		if err != nil {
			return nil, err
		}
		stages = append(stages, e)
		if cfg.Prepare.HeldOut > 0 {
			h, err := heldOutStage(opt, m)
			if err != nil {
				return nil, err
			}
			stages = append(stages, h)
		}
	}
	return append(stages, reportStage(opt, stages)), nil
}

// trainedRuns are the models a run trains: the reference (uniform) and one
// per transfer entry.
func trainedRuns(cfg *Config) []string {
	runs := []string{referenceRun}
	for _, t := range cfg.transfers() {
		runs = append(runs, t.Name)
	}
	return runs
}

// evaluatedRuns are the runs with results: the trained models, the
// untrained start and, when configured, BM25.
func evaluatedRuns(cfg *Config) []string {
	runs := append(trainedRuns(cfg), baseRun)
	if cfg.Eval.BM25 {
		runs = append(runs, "bm25")
	}
	return runs
}

// stageNames are the names of stages, in order (what a stage after all
// of them waits for).
func stageNames(stages []Stage) []string {
	names := make([]string, len(stages))
	for i, st := range stages {
		names[i] = st.Name
	}
	return names
}

// tokenizerPath is the tokenizer every stage uses: the checkpoint's own or
// the configured one (relative paths are under the data directory).
func tokenizerPath(opt Options) (string, error) {
	m := opt.Config.Model
	if m.Init != "" {
		return filepath.Abs(m.Init)
	}
	if m.Vocabulary != nil {
		return filepath.Abs(filepath.Join(opt.Out, vocabularyDir))
	}
	return underData(opt, m.Tokenizer)
}

// underData resolves a config path that is relative to the data directory.
func underData(opt Options, p string) (string, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(opt.Data, p)
	}
	return filepath.Abs(p)
}

// baseStage writes the model every training starts from when the run trains
// from scratch: a seeded random initialisation of the configured preset,
// saved as a Hugging Face checkpoint (models/base). Stage 0, the tDRO proxy
// and every stage-2 run start from these same weights.
func baseStage(opt Options, tokenizer string) Stage {
	cfg := opt.Config
	inputs, after := []string{tokenizer}, []string(nil)
	if cfg.Model.Vocabulary != nil { // the run's own
		inputs, after = nil, []string{vocabularyStage}
	}
	return Stage{
		Name: "base", Kind: KindBase, Label: "init model", Inputs: inputs, After: after, Flow: after,
		Config: struct {
			Preset string
			Seed   uint64
		}{cfg.Model.Preset, cfg.Seed},
		Outputs: []string{modelDir(baseRun)},
		Run: func(ctx context.Context, s *Step) error {
			tok, err := tokenize.Load(tokenizer)
			if err != nil {
				return err
			}
			mc, err := model.Preset(cfg.Model.Preset, tok.VocabSize())
			if err != nil {
				return fmt.Errorf("model.preset: %w", err)
			}
			m, err := model.New(mc, tok, cfg.Seed)
			if err != nil {
				return err
			}
			s.Logf("%s from scratch: %d parameters", cfg.Model.Preset, m.NumParameters())
			return m.Save(s.Path(modelDir(baseRun)))
		},
	}
}

const (
	dataGroup       = "data"
	vocabularyStage = "tokenizer"
	vocabularyDir   = "tokenizer"
)

// fitVocabularyStage fits the run's vocabulary to its prepared training
// records (model.vocabulary): the base model is built on it, and every
// checkpoint carries it.
func fitVocabularyStage(opt Options, dir string) Stage {
	v := *opt.Config.Model.Vocabulary
	var inputs []string
	alphabetFrom := v.AlphabetFrom
	if alphabetFrom != "" {
		alphabetFrom, _ = underData(opt, alphabetFrom)
		inputs = []string{alphabetFrom}
	}
	return Stage{
		Name: vocabularyStage, Kind: KindPrepare, After: []string{"prepare"}, Inputs: inputs, Label: "vocabulary", Flow: []string{"prepare"},
		Config:  v.options(),
		Outputs: []string{vocabularyDir},
		Run: func(ctx context.Context, s *Step) error {
			mix, err := data.LoadMixture(s.Path(mixtureFile))
			if err != nil {
				return err
			}
			o := v.options()
			if alphabetFrom != "" {
				from, err := tokenize.Load(alphabetFrom)
				if err != nil {
					return fmt.Errorf("model.vocabulary.alphabet_from: %w", err)
				}
				o.InitialAlphabet = from.Alphabet()
			}
			tok, err := train.TrainTokenizer(mix, o, dir)
			if err != nil {
				return err
			}
			s.Logf("fitted a %d-token WordPiece vocabulary to the training records of %d domains", tok.VocabSize(), len(mix.Domains))
			return nil
		},
	}
}

// start is the model run starts from, and the stage that makes it ("" for
// a user's checkpoint): the pre-trained model when the run pre-trains,
// except for the pre-training itself and the untrained base's evaluation.
func start(opt Options, run string) (dir, stage string, inputs []string, err error) {
	made := func(model, stage string) (string, string, []string, error) {
		dir, err := filepath.Abs(filepath.Join(opt.Out, modelDir(model)))
		return dir, stage, nil, err
	}
	if opt.Config.Pretrain != nil && run != pretrainedRun && run != baseRun {
		return made(pretrainedRun, "train-"+pretrainedRun)
	}
	if opt.Config.Model.Init != "" {
		dir, err = filepath.Abs(opt.Config.Model.Init)
		return dir, "", []string{dir}, err
	}
	return made(baseRun, "base")
}

// trainStage is stage 0 (name "reference", the uniform mixture) or a stage-2
// fine-tuning on a transferred mixture: the same recipe, seed and starting
// model, so that only the mixture differs.
func trainStage(opt Options, name, mixture string, recipe train.Recipe, after ...string) (Stage, error) {
	cfg := opt.Config
	base, baseStage, inputs, err := start(opt, name)
	if err != nil {
		return Stage{}, err
	}
	tc := train.Config{Model: base, Recipe: recipe, Seed: cfg.Seed}
	if baseStage != "" {
		after = append([]string{baseStage}, after...)
	}
	label, flow := "2: fine-tune "+name, []string{"transfer"}
	var reads []string // a fine-tuning reads its own mixture of the transfer stage's
	switch name {
	case referenceRun:
		label, flow = "0: reference (uniform)", after
	case retrieverRun:
		label, flow = "0: retriever (uniform, BM25 negatives)", after
	case pretrainedRun:
		label, flow = "pre-training (crop pairs)", after
	default:
		reads = []string{mixture}
	}
	outputs := []string{modelDir(name)}
	if recipe.Mixing == train.MixingODM {
		label += " (online mixing)"
		outputs = append(outputs, odmLog(name))
	}
	return Stage{
		Name: "train-" + name, Kind: KindTrain, After: after, Inputs: inputs, Reads: reads, Label: label, Flow: flow,
		Config: struct {
			Train   train.Config
			Mixture string
		}{tc, mixture},
		Outputs: outputs,
		Scratch: []string{checkpointDir(name), trainLog(name)},
		Run: func(ctx context.Context, s *Step) error {
			c := tc
			c.Mixture = s.Path(mixture)
			c.Out = s.Path(checkpointDir(name))
			res, err := train.Run(ctx, c, s.Resume)
			if err != nil {
				return err
			}
			if err := copyFile(res.Log, s.Path(trainLog(name))); err != nil {
				return err
			}
			if recipe.Mixing == train.MixingODM {
				if err := copyFile(filepath.Join(c.Out, train.ODMFile), s.Path(odmLog(name))); err != nil {
					return err
				}
			}
			return copyDir(res.ModelDir, s.Path(modelDir(name)))
		},
	}, nil
}

// odmLog is where an online-mixing run's weight trajectory is kept.
func odmLog(name string) string { return filepath.Join("odm", name+".jsonl") }

// droStage is stage 1 with a step learner (tdro, doremi): the proxy starts
// from the same model as stage 0, the frozen reference is stage 0's output.
func droStage(opt Options, learner string) (Stage, error) {
	cfg := opt.Config
	base, baseStage, inputs, err := start(opt, cfg.learnerStage(learner))
	if err != nil {
		return Stage{}, err
	}
	dc := dro.Config{Recipe: cfg.DRO, Seed: cfg.Seed}
	dc.Learner, dc.Measure = stepLearner(learner, cfg.DRO)
	out := cfg.learnerDir(learner)
	mixture, mixtureStage := cfg.trainingMixture()
	after := []string{mixtureStage, "train-" + referenceRun}
	if baseStage != "" {
		after = append([]string{baseStage}, after...)
	}
	return Stage{
		Name: cfg.learnerStage(learner), Kind: KindDRO, After: after, Inputs: inputs, Label: "1: " + learnerLabel(learner) + " weights", Flow: []string{"train-" + referenceRun},
		Config:  dc,
		Outputs: []string{filepath.Join(out, dro.WeightsDir)},
		Scratch: []string{out}, // checkpoint, log.jsonl, plots
		Run: func(ctx context.Context, s *Step) error {
			c := dc
			c.Mixture = s.Path(mixture)
			c.Base = base
			c.Reference = s.Path(modelDir(referenceRun))
			c.Out = s.Path(out)
			res, err := dro.Run(ctx, c, s.Resume)
			if err != nil {
				return err
			}
			s.Logf("proxy and reference scored at temperature %g", res.Temperature)
			return nil
		},
	}, nil
}

func weightsFile(kind string) string { return filepath.Join(dro.WeightsDir, dro.FileName(kind)) }
