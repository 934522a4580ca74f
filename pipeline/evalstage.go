package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/eval"
	evalreport "github.com/tdro/tdro/eval/report"
	"github.com/tdro/tdro/model"
)

// evalSets loads the evaluation sets the config names — bundled names or
// the user's own sets by path (collection.Select; all bundled sets when
// none are named) — gives eval.instruction to those tdro knows no
// instruction for and, when the config caps them, keeps the same sample of
// queries and documents for every model.
func evalSets(dataDir string, cfg EvalConfig) ([]*collection.Collection, error) {
	sets := cfg.Sets
	if len(sets) == 0 {
		sets = []string{"bundled"}
	}
	out, err := collection.Select(dataDir, sets)
	if err != nil {
		return nil, fmt.Errorf("eval.sets: %w", err)
	}
	for i, c := range out {
		out[i] = collection.Sample(c, cfg.MaxQueries, cfg.MaxDocs)
		if out[i].Instruction == "" {
			out[i].Instruction = cfg.Instruction
		}
	}
	return out, nil
}

// evalInputs are the evaluation files every evaluation stage reads: the
// bundled ones and the user's sets given by path.
func evalInputs(opt Options) []string {
	dir, _ := filepath.Abs(filepath.Join(opt.Data, "eval"))
	in := []string{dir}
	for _, s := range opt.Config.Eval.Sets {
		for _, p := range setPaths(s) {
			if abs, err := filepath.Abs(p); err == nil {
				in = append(in, abs)
			}
		}
	}
	return in
}

// setPaths are the files or folders an eval.sets entry names (none for a
// bundled set's name): paths hold a slash or end in .json, and
// QUESTIONS.json:SENTENCES.json names two.
func setPaths(spec string) []string {
	if !strings.ContainsAny(spec, `/\`) && !strings.HasSuffix(spec, ".json") {
		return nil
	}
	if q, s, ok := strings.Cut(spec, ":"); ok && strings.HasSuffix(q, ".json") && strings.HasSuffix(s, ".json") {
		return []string{q, s}
	}
	return []string{spec}
}

// evalOptions are the evaluation settings shared by every model: texts are
// truncated as in training, and queries carry their set's instruction in the
// template the trainer writes them in.
func evalOptions(opt Options, name string) eval.Options {
	o := eval.DefaultOptions()
	o.Name = name
	o.MaxLen = opt.Config.Train.PassageMaxLen
	o.QueryMaxLen = opt.Config.Train.QueryMaxLen
	o.BatchSize = opt.Config.Eval.BatchSize
	o.Instruct = !opt.Config.Eval.PlainQueries
	o.Depth = 100 // enough for Recall@100 and nDCG@10; keeps the run files small
	return o
}

// evalKey is what decides an evaluation's numbers besides the model: the
// eval section and the options themselves (eval.Options marshal only their
// result-deciding fields), so a new option cannot leave a stale result.
func evalKey(opt Options) any {
	return struct {
		Eval    EvalConfig
		Options eval.Options
	}{opt.Config.Eval, evalOptions(opt, "")}
}

// evalStage evaluates one model on the evaluation sets and keeps the TREC
// run files (the report scores them for the significance tests): a trained
// model, or the starting model (name "base": the random initialisation or the
// user's --init checkpoint), which shows what training changed.
func evalStage(opt Options, name string) (Stage, error) {
	sc, err := scoredModel(opt, name)
	if err != nil {
		return Stage{}, err
	}
	return Stage{
		Name: "eval-" + name, Kind: KindEval, After: sc.after, Inputs: append(evalInputs(opt), sc.inputs...), Label: "eval " + runName(name), Flow: sc.flow, Group: evalGroup,
		Config:  evalKey(opt),
		Outputs: []string{filepath.Join(evalDir(name), "runs"), filepath.Join(evalDir(name), "json")},
		Scratch: []string{checkpointDir("eval-" + name)}, // the embedding cache: an interrupted evaluation resumes
		Run: func(ctx context.Context, s *Step) error {
			cols, err := evalSets(opt.Data, opt.Config.Eval)
			if err != nil {
				return err
			}
			m, dir, err := sc.load(s)
			if err != nil {
				return err
			}
			o := evalOptions(opt, runName(name))
			o.CacheDir = s.Path(checkpointDir("eval-" + name))
			if o.ModelKey, err = eval.DirKey(dir); err != nil {
				return err
			}
			o.RunDir = s.Path(evalDir(name), "runs")
			o.Logf = s.Logf
			res, err := eval.Evaluate(ctx, m, cols, o)
			if err != nil {
				return err
			}
			_, err = evalreport.WriteJSON(s.Path(evalDir(name), "json"), res)
			return err
		},
	}, nil
}

// scored is the model an evaluation stage scores: a trained one (made by
// train-NAME) or the starting model (made by the base stage, or the user's
// checkpoint, then an input).
type scored struct {
	dir    string   // relative to the run directory unless absolute
	after  []string // the stage that makes it, if any
	inputs []string
	flow   []string // the diagram's arrow: none from the untrained start
}

func scoredModel(opt Options, name string) (scored, error) {
	if name != baseRun {
		after := []string{"train-" + name}
		return scored{dir: modelDir(name), after: after, flow: after}, nil
	}
	dir, stage, inputs, err := start(opt, baseRun)
	if err != nil {
		return scored{}, err
	}
	sc := scored{dir: dir, inputs: inputs}
	if stage != "" {
		sc.after = []string{stage}
	}
	return sc, nil
}

// load reads the model, and says from which directory.
func (sc scored) load(s *Step) (*model.Model, string, error) {
	dir := sc.dir
	if !filepath.IsAbs(dir) {
		dir = s.Path(dir)
	}
	m, err := model.Load(dir)
	return m, dir, err
}

// bm25Stage is the BM25 baseline on the same evaluation sets.
func bm25Stage(opt Options) Stage {
	return Stage{
		Name: "eval-bm25", Kind: KindEval, Inputs: evalInputs(opt), Label: "eval BM25", Group: evalGroup,
		Config:  evalKey(opt),
		Outputs: []string{filepath.Join(evalDir("bm25"), "runs"), filepath.Join(evalDir("bm25"), "json")},
		Run: func(ctx context.Context, s *Step) error {
			cols, err := evalSets(opt.Data, opt.Config.Eval)
			if err != nil {
				return err
			}
			o := evalOptions(opt, "bm25")
			o.RunDir = s.Path(evalDir("bm25"), "runs")
			o.Logf = s.Logf
			res, err := eval.BM25(ctx, cols, o)
			if err != nil {
				return err
			}
			_, err = evalreport.WriteJSON(s.Path(evalDir("bm25"), "json"), res)
			return err
		},
	}
}

// evalGroup is the diagram box of all evaluations (the report's stage
// table lists them one by one).
const evalGroup = "eval"

// runName is how a model is called in the results: the reference model is
// the uniform baseline.
func runName(model string) string {
	if model == referenceRun {
		return "uniform"
	}
	return model
}
