package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/eval"
	"github.com/tdro/tdro/eval/metrics"
	"github.com/tdro/tdro/eval/report"
	"github.com/tdro/tdro/eval/significance"
	"github.com/tdro/tdro/internal/atomicfile"
	"github.com/tdro/tdro/model"
	"github.com/tdro/tdro/train"
)

func init() { rootCmd.AddCommand(newEvalCmd()) }

// newEvalCmd builds the eval command (fresh flags each call, for tests).
func newEvalCmd() *cobra.Command {
	var (
		models, sets, runs     []string
		compare                []string
		dataDir, out, baseline string
		cacheDir, measureList  string
		tableList, instruction string
		opts                   = eval.DefaultOptions()
		noCache                bool
	)
	cmd := &cobra.Command{
		Use:   "eval --model DIR|bm25 [--model ...] [--data SET...] [--baseline RUN] --out DIR",
		Short: "Evaluate models and BM25 on retrieval sets: trec_eval-exact metrics, significance, reports",
		Long: `eval encodes each collection's corpus and queries with every --model (a Hugging Face
checkpoint directory, or "bm25" for the BM25 baseline), retrieves the top --depth documents
by exact inner-product search, and scores the runs with trec_eval's semantics.

--data takes bundled set names (see below), "bundled" for all of them (the default),
or paths: a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv), a SMART folder
(.ALL/.QRY/.REL), an XQuAD-R JSON file, or QUESTIONS.json:SENTENCES.json for
cross-lingual XQuAD-R. --run NAME=FILE scores an external TREC run file (one --data set).
--compare DIR adds the runs of an earlier eval --out directory (read from its JSON files,
per-query values included) to the tables and significance tests without re-running them.

Queries are encoded as tdro trains them, "Instruct: {instruction}\nQuery: {query}", with
each set's instruction (E5-Mistral's for BEIR sets, ones in that style for the SMART
collections and XQuAD-R; --instruction for a set tdro knows none for); --instruct=false
encodes them plainly, for models trained without instructions.

Corpus and query embeddings are cached under --cache, keyed by the checkpoint's files
and the texts, so evaluating the same model again is instant.

Writes to --out: results/<run>/<dataset>.json (MTEB-style, with per-query values),
runs/<dataset>/<run>.trec, significance.json (t statistic and both p-values of every run
against --baseline per measure and dataset), results.md and report.html (tables with
significance marks, p-values, bar plots, per-query difference histograms).`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			if len(models) == 0 && len(runs) == 0 && len(compare) == 0 {
				return fmt.Errorf("give at least one --model (a checkpoint directory or bm25), --run or --compare")
			}
			// Everything that can be wrong with the command is found before any
			// work: run names, the baseline, the output directory, the depth.
			named, err := nameModels(models)
			if err != nil {
				return err
			}
			earlier := make([]*eval.Results, len(compare))
			for i, dir := range compare {
				if _, err := os.Stat(filepath.Join(dir, "results")); err == nil {
					dir = filepath.Join(dir, "results")
				}
				if earlier[i], err = report.ReadJSON(dir); err != nil {
					return fmt.Errorf("--compare %s: %w", compare[i], err)
				}
			}
			if err := checkRunNames(named, runs, compare, earlier, baseline); err != nil {
				return err
			}
			if opts.Depth <= 0 {
				return fmt.Errorf("--depth: must be > 0, got %d", opts.Depth)
			}
			if err := atomicfile.CheckWritable(out); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			ms, err := metrics.ParseMeasures(splitList(measureList)...)
			if err != nil {
				return err
			}
			tableMs, err := metrics.ParseMeasures(splitList(tableList)...)
			if err != nil {
				return err
			}
			opts.Measures = mergeMeasures(ms, tableMs)
			if !noCache {
				opts.CacheDir = cacheDir
				if opts.CacheDir == "" {
					base, err := os.UserCacheDir()
					if err != nil {
						return fmt.Errorf("no cache directory (use --cache or --no-cache): %w", err)
					}
					opts.CacheDir = filepath.Join(base, "tdro", "embeddings")
				}
			}
			opts.RunDir = filepath.Join(out, "runs")
			opts.Logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, "warning: "+f+"\n", a...) }
			cols, err := collection.Select(dataDir, sets)
			if err != nil {
				return err
			}
			for _, c := range cols {
				if c.Instruction == "" {
					c.Instruction = instruction
				}
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			all := &eval.Results{}
			add := func(r *eval.Results) error {
				merged, err := eval.Merge(all, r)
				if err == nil {
					all = merged
				}
				return err
			}
			for _, m := range named {
				r, err := evalModel(ctx, m, cols, opts)
				if err != nil {
					if ctx.Err() != nil {
						return fmt.Errorf("interrupted while evaluating %s; nothing was written to %s (embeddings already computed are cached: rerun to continue): %w", m.name, out, err)
					}
					return err
				}
				if err := add(r); err != nil {
					return err
				}
			}
			for _, spec := range runs {
				r, err := evalRunFile(spec, cols, opts)
				if err != nil {
					return err
				}
				if err := add(r); err != nil {
					return err
				}
			}
			for i, r := range earlier {
				if len(models)+len(runs) > 0 { // keep the sets evaluated now
					keepSets(r, cols)
				}
				if err := add(r); err != nil {
					return fmt.Errorf("--compare %s: %w (evaluate under another name)", compare[i], err)
				}
			}
			if baseline == "" && all.Run("bm25") != nil && len(all.Runs) > 1 {
				baseline = "bm25"
			}
			ro := report.Options{Measures: tableMs, Baseline: baseline, Randomization: significance.Randomization{Seed: 1}}
			if _, err := report.WriteJSON(filepath.Join(out, "results"), all); err != nil {
				return err
			}
			if baseline != "" {
				sig, err := report.Significance(all, ro)
				if err != nil {
					return err
				}
				if err := atomicfile.WriteJSON(filepath.Join(out, "significance.json"), sig); err != nil {
					return err
				}
			}
			md, err := report.Markdown(all, ro)
			if err != nil {
				return err
			}
			if err := atomicfile.WriteFile(filepath.Join(out, "results.md"), []byte(md)); err != nil {
				return err
			}
			page, err := report.HTML(all, "tdro evaluation", ro)
			if err != nil {
				return err
			}
			if err := atomicfile.WriteFile(filepath.Join(out, "report.html"), page); err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), md)
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (results/, runs/, results.md, report.html)\n", out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&models, "model", nil, `model to evaluate: checkpoint directory, NAME=DIR, or "bm25" (repeatable; the run is named NAME, else the directory's name)`)
	f.StringArrayVar(&runs, "run", nil, "external TREC run to score, NAME=FILE (repeatable; needs exactly one --data set)")
	f.StringArrayVar(&compare, "compare", nil, "earlier eval --out directory whose runs join the tables (repeatable; no re-evaluation)")
	f.StringSliceVar(&sets, "data", []string{"bundled"}, "evaluation sets: bundled names, \"bundled\", or paths (repeatable, comma-separated)")
	f.StringVar(&dataDir, "data-dir", "../shared/data", "bundled data directory")
	f.StringVar(&baseline, "baseline", "", "run to test the others against (default bm25 when evaluated)")
	f.StringVar(&out, "out", "", "output directory")
	f.StringVar(&cacheDir, "cache", "", "embedding cache directory (default: the user cache dir, tdro/embeddings)")
	f.BoolVar(&noCache, "no-cache", false, "do not read or write the embedding cache")
	f.StringVar(&measureList, "measures", "ndcg@10,ndcg@100,recall@10,recall@100,mrr@10,mrr,map,p@10,acc@1,acc@5,acc@20,acc@100", "measures computed and saved")
	f.StringVar(&tableList, "table", "ndcg@10,recall@100", "measures shown in the tables")
	f.IntVar(&opts.Depth, "depth", opts.Depth, "documents retrieved per query")
	f.IntVar(&opts.MaxLen, "max-len", opts.MaxLen, "tokens per document")
	f.IntVar(&opts.QueryMaxLen, "query-max-len", 128, "tokens per query")
	f.IntVar(&opts.BatchSize, "batch", opts.BatchSize, "texts per forward pass")
	f.BoolVar(&opts.Instruct, "instruct", true, `encode queries as "Instruct: {instruction}\nQuery: {query}", as tdro trains them`)
	f.StringVar(&instruction, "instruction", "", "query instruction for the --data sets tdro knows none for (bundled and common BEIR sets have one)")
	f.StringVar(&opts.QueryPrefix, "query-prefix", "", `text prepended to queries (e.g. "query: ")`)
	f.StringVar(&opts.DocPrefix, "doc-prefix", "", `text prepended to documents (e.g. "passage: ")`)
	f.BoolVar(&opts.CountMissing, "count-missing", true, "score judged queries without results as 0 (trec_eval -c)")
	return cmd
}

// namedModel is one --model: the run's name and the checkpoint ("bm25":
// the baseline).
type namedModel struct{ name, dir string }

// nameModels reads --model values: NAME=DIR, DIR (named after the
// directory) or bm25.
func nameModels(specs []string) ([]namedModel, error) {
	var out []namedModel
	for _, spec := range specs {
		if spec == "bm25" {
			out = append(out, namedModel{"bm25", ""})
			continue
		}
		name, dir, ok := strings.Cut(spec, "=")
		if !ok || name == "" || strings.ContainsAny(name, `/\`) {
			name, dir = filepath.Base(filepath.Clean(spec)), spec
		}
		if dir == "" {
			return nil, fmt.Errorf("--model %q: want DIR, NAME=DIR or bm25", spec)
		}
		out = append(out, namedModel{name, dir})
	}
	return out, nil
}

// checkRunNames refuses two runs of one name (their TREC files and results
// would overwrite each other) and a --baseline that names no run.
func checkRunNames(models []namedModel, runs, compare []string, earlier []*eval.Results, baseline string) error {
	where := map[string]string{}
	add := func(name, what string) error {
		if prev, dup := where[name]; dup {
			return fmt.Errorf("two runs are named %q (%s and %s): name them apart, e.g. --model NAME=DIR", name, prev, what)
		}
		where[name] = what
		return nil
	}
	for _, m := range models {
		what := "--model " + m.dir
		if m.dir == "" {
			what = "--model bm25"
		}
		if err := add(m.name, what); err != nil {
			return err
		}
	}
	for _, spec := range runs {
		name, _, _ := strings.Cut(spec, "=")
		if err := add(name, "--run "+spec); err != nil {
			return err
		}
	}
	for i, r := range earlier {
		for _, run := range r.Runs {
			if err := add(run.Name, "--compare "+compare[i]); err != nil {
				return err
			}
		}
	}
	if _, ok := where[baseline]; baseline != "" && !ok {
		names := slices.Sorted(maps.Keys(where))
		return fmt.Errorf("--baseline %q: no run of that name (runs: %s)", baseline, strings.Join(names, ", "))
	}
	return nil
}

// evalModel evaluates one --model value.
func evalModel(ctx context.Context, nm namedModel, cols []*collection.Collection, opts eval.Options) (*eval.Results, error) {
	opts.Name = nm.name
	if nm.dir == "" {
		return eval.BM25(ctx, cols, opts)
	}
	spec := nm.dir
	m, err := model.Load(spec)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", spec, err)
	}
	if opts.CacheDir != "" {
		if opts.ModelKey, err = eval.DirKey(spec); err != nil {
			return nil, err
		}
	}
	if r, ok, err := train.TrainedRecipe(spec); err == nil && ok && opts.Logf != nil &&
		(r.QueryMaxLen != opts.QueryMaxLen || r.PassageMaxLen != opts.MaxLen) {
		opts.Logf("model %s was trained with %d query and %d passage tokens; it is evaluated with %d and %d (--query-max-len, --max-len)",
			nm.name, r.QueryMaxLen, r.PassageMaxLen, opts.QueryMaxLen, opts.MaxLen)
	}
	opts.CountTokens = tokenCounter(m, opts.MaxLen)
	return eval.Evaluate(ctx, m, cols, opts)
}

// tokenCounter counts the tokens the model sees (after truncation).
func tokenCounter(m *model.Model, maxLen int) func([]string) int64 {
	return func(texts []string) int64 {
		n := int64(0)
		for _, ids := range m.Tokenizer.EncodeAll(texts, maxLen) {
			n += int64(len(ids))
		}
		return n
	}
}

// evalRunFile scores NAME=FILE on the single --data collection.
func evalRunFile(spec string, cols []*collection.Collection, opts eval.Options) (*eval.Results, error) {
	name, path, ok := strings.Cut(spec, "=")
	if !ok || name == "" || path == "" {
		return nil, fmt.Errorf("--run %q: want NAME=FILE", spec)
	}
	if len(cols) != 1 {
		return nil, fmt.Errorf("--run %s: scoring an external run needs exactly one --data set, have %d", name, len(cols))
	}
	run, _, err := metrics.ReadRun(path)
	if err != nil {
		return nil, err
	}
	opts.Name = name
	d, err := eval.ScoreRun(cols[0], run, opts)
	if err != nil {
		return nil, fmt.Errorf("score %s: %w", path, err)
	}
	return &eval.Results{Runs: []*eval.RunResult{{Name: name, Datasets: []*eval.DatasetResult{d}}}}, nil
}

// keepSets drops the datasets of r that are not among cols.
func keepSets(r *eval.Results, cols []*collection.Collection) {
	names := map[string]bool{}
	for _, c := range cols {
		names[c.Name] = true
	}
	for _, run := range r.Runs {
		kept := run.Datasets[:0]
		for _, d := range run.Datasets {
			if names[d.Dataset] {
				kept = append(kept, d)
			}
		}
		run.Datasets = kept
	}
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// mergeMeasures returns a followed by the measures of b it lacks.
func mergeMeasures(a, b []metrics.Measure) []metrics.Measure {
	out := append([]metrics.Measure(nil), a...)
	for _, m := range b {
		found := false
		for _, x := range out {
			found = found || x == m
		}
		if !found {
			out = append(out, m)
		}
	}
	return out
}
