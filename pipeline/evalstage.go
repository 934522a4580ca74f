package pipeline

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sort"
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
		out[i] = Sample(c, cfg.MaxQueries, cfg.MaxDocs)
		if out[i].Instruction == "" {
			out[i].Instruction = cfg.Instruction
		}
	}
	return out, nil
}

// Sample keeps at most maxQueries queries and maxDocs documents of c (0:
// all). The choice is a fixed pseudo-random one — by the SHA-256 of the id —
// so it is spread over the whole collection and identical for every model
// and run; kept items stay in collection order. Every document judged for a
// kept query stays in the corpus, even past maxDocs, so no relevant document
// is lost.
func Sample(c *collection.Collection, maxQueries, maxDocs int) *collection.Collection {
	// Everything but the sample itself carries over (name, language, instruction...).
	out := &collection.Collection{}
	*out = *c
	out.Docs, out.Queries, out.Qrels = nil, nil, map[string]map[string]int{}
	qids := make([]string, len(c.Queries))
	for i, q := range c.Queries {
		qids[i] = q.ID
	}
	keepQ := pick(qids, maxQueries, nil)
	keepD := map[string]bool{}
	for _, q := range c.Queries {
		if keepQ[q.ID] {
			out.Queries = append(out.Queries, q)
			out.Qrels[q.ID] = c.Qrels[q.ID]
			for d := range c.Qrels[q.ID] {
				keepD[d] = true
			}
		}
	}
	dids := make([]string, len(c.Docs))
	for i, d := range c.Docs {
		dids[i] = d.ID
	}
	keepD = pick(dids, maxDocs, keepD)
	for _, d := range c.Docs {
		if keepD[d.ID] {
			out.Docs = append(out.Docs, d)
		}
	}
	return out
}

// pick adds ids to keep, in the order of their SHA-256, until it holds n
// (n <= 0: all ids).
func pick(ids []string, n int, keep map[string]bool) map[string]bool {
	if keep == nil {
		keep = map[string]bool{}
	}
	if n <= 0 || n >= len(ids) {
		for _, id := range ids {
			keep[id] = true
		}
		return keep
	}
	hashed := make([][2]string, len(ids))
	for i, id := range ids {
		h := sha256.Sum256([]byte(id))
		hashed[i] = [2]string{string(h[:]), id}
	}
	sort.Slice(hashed, func(i, j int) bool { return hashed[i][0] < hashed[j][0] })
	for _, h := range hashed {
		if len(keep) >= n {
			break
		}
		keep[h[1]] = true
	}
	return keep
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

// evalKey is what decides an evaluation's numbers besides the model.
func evalKey(opt Options) any {
	o := evalOptions(opt, "")
	return struct {
		Eval                                  EvalConfig
		MaxLen, QueryMaxLen, BatchSize, Depth int
		Measures                              string
		Instruct                              bool
	}{opt.Config.Eval, o.MaxLen, o.QueryMaxLen, o.BatchSize, o.Depth, fmt.Sprint(o.Measures), o.Instruct}
}

// evalStage evaluates one model on the evaluation sets and keeps the TREC
// run files (the report scores them for the significance tests): a trained
// model, or the starting model (name "base": the random initialisation or the
// user's --init checkpoint), which shows what training changed.
func evalStage(opt Options, name string) (Stage, error) {
	dir, after, inputs := modelDir(name), []string{"train-" + name}, evalInputs(opt)
	if name == baseRun {
		start, stage, in, err := start(opt)
		if err != nil {
			return Stage{}, err
		}
		dir, after, inputs = start, nil, append(inputs, in...)
		if stage != "" {
			after = []string{stage}
		}
	}
	return Stage{
		Name: "eval-" + name, After: after, Inputs: inputs,
		Config:  evalKey(opt),
		Outputs: []string{filepath.Join(evalDir(name), "runs"), filepath.Join(evalDir(name), "json")},
		Scratch: []string{checkpointDir("eval-" + name)}, // the embedding cache: an interrupted evaluation resumes
		Run: func(ctx context.Context, s *Step) error {
			cols, err := evalSets(opt.Data, opt.Config.Eval)
			if err != nil {
				return err
			}
			dir := dir
			if !filepath.IsAbs(dir) {
				dir = s.Path(dir)
			}
			m, err := model.Load(dir)
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

// bm25Stage is the BM25 baseline on the same evaluation sets.
func bm25Stage(opt Options) Stage {
	return Stage{
		Name: "eval-bm25", Inputs: evalInputs(opt),
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

// runName is how a model is called in the results: the reference model is
// the uniform baseline.
func runName(model string) string {
	if model == referenceRun {
		return "uniform"
	}
	return model
}
