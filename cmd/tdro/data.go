package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/data/importers"
	"github.com/tdro/tdro/prepare"
)

func init() {
	dataCmd := &cobra.Command{
		Use:   "data",
		Short: "Import training data, mine hard negatives, prepare the training mixture",
	}
	dataCmd.AddCommand(dataPrepareCmd(), dataImportCmd(), dataDedupCmd(), dataCheckCmd(), dataSetsCmd(), dataPlantedCmd(), dataLengthsCmd(), dataMineCmd())
	rootCmd.AddCommand(dataCmd)
}

// unlessZero maps a flag's 0 ("none"/"all") to the importers' "< 0".
func unlessZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func commaList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

func dataPrepareCmd() *cobra.Command {
	var (
		opt          prepare.Options
		sts, domains string
	)
	cmd := &cobra.Command{
		Use:   "prepare --out DIR [--data PATH] [--seed N] [--max-per-domain N] [--negatives N]",
		Short: "Build the default training mixture from the bundled raw datasets",
		Long: `prepare imports every bundled training dataset (one domain each), removes training
queries within SimHash Hamming distance 2 of any bundled evaluation query, keeps a
seeded sample of at most --max-per-domain records per domain, mines --negatives BM25
hard negatives per record (ranks [2, 100), positives excluded; datasets' own negatives
such as same-article paragraphs or contradictions come first), and writes
DIR/<domain>.jsonl plus DIR/mixture.json with uniform weights, languages, query
instructions and symmetric flags. The same flags give byte-identical files.

Malformed source items are skipped and counted (the "skipped" column) unless
--skip-bad=false, which stops at the first one with its file, line and field.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.OutDir == "" {
				return fmt.Errorf("--out is required")
			}
			opt.MaxPerDomain = unlessZero(opt.MaxPerDomain)
			opt.Negatives = unlessZero(opt.Negatives)
			srcs := prepare.DefaultSources(commaList(sts))
			if domains != "" {
				var err error
				if srcs, err = pickSources(srcs, commaList(domains)); err != nil {
					return err
				}
			}
			opt.Sources = srcs
			opt.Log = cmd.ErrOrStderr()
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			_, rep, err := prepare.Run(ctx, opt)
			if err != nil {
				return err
			}
			return rep.WriteTable(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opt.OutDir, "out", "", "output directory (mixture.json and one JSONL file per domain)")
	f.StringVar(&opt.DataDir, "data", prepare.DefaultDataDir(), "bundled data directory (train/ and eval/ as in ../shared/data)")
	f.Uint64Var(&opt.Seed, "seed", prepare.DefaultSeed, "seed for record sampling and negative mining")
	f.IntVar(&opt.MaxPerDomain, "max-per-domain", prepare.DefaultMaxPerDomain, "records kept per domain, a seeded sample (0: all)")
	f.IntVar(&opt.Negatives, "negatives", prepare.DefaultNegatives, "hard negatives per record (0: none)")
	f.BoolVar(&opt.SkipBad, "skip-bad", true, "skip and count malformed source items instead of failing")
	f.StringVar(&sts, "sts-languages", strings.Join(prepare.DefaultSTSLanguages, ","), "stsb_mt languages to include, one domain each")
	f.StringVar(&domains, "domains", "", "comma-separated subset of domains (default: all)")
	return cmd
}

func pickSources(all []prepare.Source, names []string) ([]prepare.Source, error) {
	var out []prepare.Source
	for _, n := range names {
		found := false
		for _, s := range all {
			if s.Name == n {
				out, found = append(out, s), true
			}
		}
		if !found {
			var known []string
			for _, s := range all {
				known = append(known, s.Name)
			}
			return nil, fmt.Errorf("unknown domain %q (have %s)", n, strings.Join(known, ", "))
		}
	}
	return out, nil
}

func dataImportCmd() *cobra.Command {
	var (
		format, out string
		negatives   int
		seed        uint64
		minScore    float64
		cols        importers.Columns
		opt         importers.Options
	)
	cmd := &cobra.Command{
		Use:   "import --format FORMAT --out FILE.jsonl [--negatives N] FILE...",
		Short: "Convert raw dataset files into one tdro training-records file",
		Long: `import reads FILE... in --format and writes tdro/Tevatron JSONL records to --out
(--format jsonl without --negatives streams, so records files of any size work).
With --negatives N > 0 it also mines N BM25 hard negatives per record over the
passages of the input (ranks [2, 100), positives excluded, seeded).

Formats:
` + formatHelp(),
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if format == "" || out == "" {
				return fmt.Errorf("--format and --out are required")
			}
			if cmd.Flags().Changed("min-score") {
				opt.MinScore = &minScore
			}
			if format == "pairs" {
				opt.Columns = &cols
			}
			if format == "jsonl" && negatives <= 0 {
				// Records files may be large: stream them.
				res, n, err := importers.CopyRecords(files, out, opt)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s to %s (%d malformed skipped)\n", count(n, "record"), out, res.Skipped)
				printProblems(cmd.ErrOrStderr(), res.Skipped, res.Problems)
				return nil
			}
			res, err := importers.Import(format, files, opt)
			if err != nil {
				return err
			}
			if negatives > 0 {
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				if err := prepare.MineNegatives(ctx, res.Records, nil, prepare.MineOptions{Negatives: negatives, Seed: seed, Label: format}); err != nil {
					return err
				}
			}
			if len(res.Records) == 0 {
				return fmt.Errorf("no records in %s", strings.Join(files, ", "))
			}
			if err := data.WriteRecords(out, res.Records); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "wrote %s to %s (%d items filtered by the format's rules, %d malformed skipped)\n", count(len(res.Records), "record"), out, res.Filtered, res.Skipped)
			printProblems(cmd.ErrOrStderr(), res.Skipped, res.Problems)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "", "input format: "+strings.Join(importers.FormatNames(), ", "))
	f.StringVar(&out, "out", "", "output JSONL file")
	f.IntVar(&negatives, "negatives", 0, "BM25 hard negatives per record (0: keep the input's own)")
	f.Uint64Var(&seed, "seed", prepare.DefaultSeed, "seed for negative sampling")
	f.BoolVar(&opt.SkipBad, "skip-bad", false, "skip and count malformed items instead of failing")
	f.Float64Var(&minScore, "min-score", 0, "lowest score kept: stsb (in [0, 5], default 4), pairs with --score-col (default: every row)")
	f.StringVar(&cols.Query, "query-col", "", "pairs: the query column (header name, or 1-based position with --no-header; JSONL: key)")
	f.StringVar(&cols.Pos, "pos-col", "", "pairs: the positive passage column")
	f.StringVar(&cols.Neg, "neg-col", "", "pairs: a hard-negative passage column (optional)")
	f.StringVar(&cols.Score, "score-col", "", "pairs: a score column; rows below --min-score are filtered (optional)")
	f.BoolVar(&cols.NoHeader, "no-header", false, "pairs: the CSV/TSV file has no header row; columns are 1-based positions")
	return cmd
}

func formatHelp() string {
	var b strings.Builder
	for _, n := range importers.FormatNames() {
		fmt.Fprintf(&b, "  %-11s %s\n", n, importers.Formats[n].Description)
	}
	return b.String()
}

func printProblems(w io.Writer, skipped int, problems []error) {
	for _, p := range problems {
		fmt.Fprintln(w, "skipped:", p)
	}
	if skipped > len(problems) {
		fmt.Fprintf(w, "... and %d more\n", skipped-len(problems))
	}
}

func dataDedupCmd() *cobra.Command {
	var (
		out, dataDir string
		evalSets     []string
		opt          importers.Options
	)
	cmd := &cobra.Command{
		Use:   "dedup --out FILE.jsonl [--eval SET...] FILE...",
		Short: "Drop training records whose query nearly repeats an evaluation query",
		Long: `dedup streams records files (tdro/Tevatron or FlagEmbedding JSONL) to --out, leaving out
every record whose query is within SimHash Hamming distance 2 of a query of the evaluation
sets, and counts the drops per set. --eval takes a BEIR folder, a SMART folder, an XQuAD-R
.json file or QUESTIONS.json:SENTENCES.json; without --eval, every bundled set under --data.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			var cs []*collection.Collection
			for _, spec := range evalSets {
				c, err := collection.Load(spec)
				if err != nil {
					return fmt.Errorf("--eval %s: %w", spec, err)
				}
				cs = append(cs, c)
			}
			if len(cs) == 0 {
				var err error
				if cs, err = collection.Bundled(dataDir); err != nil {
					return err
				}
			}
			set := prepare.EvalQuerySet(cs)
			res, kept, by, err := importers.DedupRecords(files, out, set, opt)
			if err != nil {
				return err
			}
			removed := 0
			for _, n := range by {
				removed += n
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "wrote %d records to %s; removed %d near-duplicates of %d evaluation queries; %d malformed skipped\n", kept, out, removed, set.Len(), res.Skipped)
			for _, c := range cs {
				if by[c.Name] > 0 {
					fmt.Fprintf(w, "  %-22s %d\n", c.Name, by[c.Name])
				}
			}
			printProblems(cmd.ErrOrStderr(), res.Skipped, res.Problems)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "output JSONL file")
	f.StringSliceVar(&evalSets, "eval", nil, "evaluation set path (repeatable; default: all bundled sets)")
	f.StringVar(&dataDir, "data", prepare.DefaultDataDir(), "bundled data directory (when no --eval)")
	f.BoolVar(&opt.SkipBad, "skip-bad", false, "skip and count malformed lines instead of failing")
	return cmd
}

func dataCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE...",
		Short: "Validate mixture files (.json) and records files (.jsonl), and count their records",
		Long: `check validates each mixture file (and every domain file it lists) or records file
(tdro/Tevatron or FlagEmbedding JSONL), stopping at the first malformed line with its
file, line and field. A file is a mixture when it is one JSON object with a "domains"
list, whatever its name; repeated query ids and empty files are errors, as in training.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "file\trecords\tpositives\tnegatives\t")
			for _, f := range files {
				type domainFile struct{ path, context string }
				paths := []domainFile{{f, ""}}
				if isMixture(f) {
					mix, err := data.LoadMixture(f)
					if err != nil {
						return err
					}
					paths = paths[:0]
					for _, d := range mix.Domains {
						paths = append(paths, domainFile{d.Path, fmt.Sprintf("mixture %s, domain %q: ", f, d.Name)})
					}
				}
				for _, p := range paths {
					var n, pos, neg int
					err := data.ScanRecords(p.path, func(_ int, r data.Record) error {
						n, pos, neg = n+1, pos+len(r.Positives), neg+len(r.Negatives)
						return nil
					})
					if err == nil && n == 0 {
						err = data.ErrNoRecords(p.path)
					}
					if err != nil {
						return fmt.Errorf("%s%w", p.context, err)
					}
					fmt.Fprintf(w, "%s\t%d\t%d\t%d\t\n", p.path, n, pos, neg)
				}
			}
			return w.Flush()
		},
	}
}

func dataSetsCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "sets [--data PATH]",
		Short: "List the bundled evaluation sets with their sizes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, err := collection.Bundled(dataDir)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "set\tlanguage\tdocs\tqueries\tjudgments\trelevant\t")
			for _, c := range cs {
				s := c.Stats()
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t\n", c.Name, c.Language, s.Docs, s.Queries, s.Judgments, s.Relevant)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", prepare.DefaultDataDir(), "bundled data directory")
	return cmd
}

// isMixture tells a mixture file (one JSON object with a "domains" key)
// from a records file by content, not name: a records file may well be
// called .json.
func isMixture(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return strings.HasSuffix(path, ".json") // let the loader report the error
	}
	var top map[string]json.RawMessage
	b, _ = data.CheckUTF8(path, b)
	if json.Unmarshal(b, &top) != nil {
		return false
	}
	_, ok := top["domains"]
	return ok
}
