package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/eval"
	"github.com/tdro/tdro/tokenize"
	"github.com/tdro/tdro/train"
)

func dataLengthsCmd() *cobra.Command {
	var (
		mixture, tokenizer, dataDir, sets string
		queryLen, passageLen              int
	)
	cmd := &cobra.Command{
		Use:   "lengths --mixture FILE --tokenizer PATH [--query-max-len N] [--passage-max-len N] [--sets a,b]",
		Short: "Measure what the query and passage budgets cut, per training domain and per evaluation set",
		Long: `lengths tokenizes every training record of the mixture as the trainer writes it (the
query after its domain's instruction, "Instruct: ...\nQuery: ..."; a symmetric domain's
passages too) and every evaluation set as the evaluation does (queries with their set's
instruction, documents as title and text), and prints per domain and set: mean and 95th
percentile tokens (special tokens included), the share of texts the budget truncates and
the share of their text tokens it drops, and the share of text tokens that are [UNK] (text
the vocabulary cannot represent). Choose budgets from this, not from scores.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if mixture == "" || tokenizer == "" {
				return fmt.Errorf("--mixture and --tokenizer are required")
			}
			tok, err := tokenize.Load(tokenizer)
			if err != nil {
				return err
			}
			mix, err := data.LoadMixture(mixture)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 8, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintf(w, "kind\tname\tside\tbudget\ttexts\tmean tokens\tp95\ttruncated\ttokens lost\t[UNK]\t\n")
			row := func(kind, name, side string, budget int, texts []string) {
				r := tok.Truncation(texts, budget)
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%.1f\t%d\t%.1f%%\t%.1f%%\t%.1f%%\t\n", kind, name, side, budget, r.Texts, r.MeanTokens, r.P95Tokens,
					100*float64(r.Truncated)/float64(max(r.Texts, 1)), 100*r.Lost, 100*r.Unknown)
			}
			for _, d := range mix.Domains {
				recs, err := data.ReadRecords(d.Path)
				if err != nil {
					return err
				}
				var qs, ps []string
				train.DomainTexts(d, recs, func(query bool, t string) {
					if query {
						qs = append(qs, t)
					} else {
						ps = append(ps, t)
					}
				})
				row("train", d.Name, "query", queryLen, qs)
				row("train", d.Name, "passage", passageLen, ps)
			}
			cols, err := collection.Select(dataDir, commaList(sets))
			if err != nil {
				return err
			}
			for _, c := range cols {
				var qs, ds []string
				for _, q := range c.Queries {
					qs = append(qs, tokenize.Instruct(c.Instruction, q.Text))
				}
				for _, d := range c.Docs {
					ds = append(ds, eval.DocText(d))
				}
				row("eval", c.Name, "query", queryLen, qs)
				row("eval", c.Name, "document", passageLen, ds)
			}
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&mixture, "mixture", "", "prepared mixture.json (e.g. RUN/data/mixture.json)")
	f.StringVar(&tokenizer, "tokenizer", "", "tokenizer.json or its directory")
	f.StringVar(&dataDir, "data", "../shared/data", "bundled data directory (evaluation sets)")
	f.StringVar(&sets, "sets", "bundled", "evaluation sets (names, paths, or bundled)")
	f.IntVar(&queryLen, "query-max-len", 32, "query budget in tokens (the default preset's)")
	f.IntVar(&passageLen, "passage-max-len", 64, "passage budget in tokens (the default preset's)")
	return cmd
}
