package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
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
			cols, err := loadSets(dataDir, sets)
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
			for _, m := range models {
				r, err := evalModel(ctx, m, cols, opts)
				if err != nil {
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
			for _, dir := range compare {
				if _, err := os.Stat(filepath.Join(dir, "results")); err == nil {
					dir = filepath.Join(dir, "results")
				}
				r, err := report.ReadJSON(dir)
				if err != nil {
					return err
				}
				if len(models)+len(runs) > 0 { // keep the sets evaluated now
					keepSets(r, cols)
				}
				if err := add(r); err != nil {
					return fmt.Errorf("--compare %s: %w (evaluate under another name)", dir, err)
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
	f.StringArrayVar(&models, "model", nil, `model to evaluate: checkpoint directory or "bm25" (repeatable)`)
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

// evalModel evaluates one --model value.
func evalModel(ctx context.Context, spec string, cols []*collection.Collection, opts eval.Options) (*eval.Results, error) {
	if spec == "bm25" {
		opts.Name = "bm25"
		return eval.BM25(ctx, cols, opts)
	}
	m, err := model.Load(spec)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", spec, err)
	}
	opts.Name = filepath.Base(filepath.Clean(spec))
	if opts.CacheDir != "" {
		if opts.ModelKey, err = eval.DirKey(spec); err != nil {
			return nil, err
		}
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

// loadSets resolves --data values to collections.
func loadSets(dataDir string, sets []string) ([]*collection.Collection, error) {
	var bundled []*collection.Collection
	getBundled := func() ([]*collection.Collection, error) {
		if bundled != nil {
			return bundled, nil
		}
		var err error
		bundled, err = collection.Bundled(dataDir)
		if err != nil {
			return nil, fmt.Errorf("bundled evaluation sets in %s: %w", dataDir, err)
		}
		return bundled, nil
	}
	var out []*collection.Collection
	seen := map[string]bool{}
	add := func(c *collection.Collection) error {
		if seen[c.Name] {
			return fmt.Errorf("--data: set %s given twice", c.Name)
		}
		seen[c.Name] = true
		out = append(out, c)
		return nil
	}
	for _, s := range sets {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if isPath(s) {
			c, err := collection.Load(s)
			if err != nil {
				return nil, err
			}
			if err := add(c); err != nil {
				return nil, err
			}
			continue
		}
		all, err := getBundled()
		if err != nil {
			return nil, err
		}
		found := false
		for _, c := range all {
			if s == "bundled" || c.Name == s {
				found = true
				if err := add(c); err != nil {
					return nil, err
				}
			}
		}
		if !found {
			var names []string
			for _, c := range all {
				names = append(names, c.Name)
			}
			return nil, fmt.Errorf("--data %q: not a path nor a bundled set (bundled: %s)", s, strings.Join(names, ", "))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--data: no evaluation sets")
	}
	return out, nil
}

// isPath tells a --data value naming files (collection.Load) from a bundled set name.
func isPath(s string) bool {
	if q, sent, ok := strings.Cut(s, ":"); ok && strings.HasSuffix(q, ".json") && strings.HasSuffix(sent, ".json") {
		return true
	}
	_, err := os.Stat(s)
	return err == nil
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
