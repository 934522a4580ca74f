package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/prepare"
	"github.com/tdro/tdro/remine"
)

func dataMineCmd() *cobra.Command {
	var (
		modelDir, mixPath, out string
		queryLen, passageLen   int
		batch                  int
		keepOwn                bool
		window                 []int
		opt                    prepare.MineOptions
	)
	cmd := &cobra.Command{
		Use:   "mine --model DIR --mixture FILE --out DIR [--negatives N]",
		Short: "Re-mine the hard negatives of a mixture with a trained dense retriever",
		Long: `mine is the paper's second pass over the training data: a trained retriever (a model
directory tdro wrote, or any checkpoint it loads) encodes every passage of each
domain of --mixture and each query, as the model was trained to read them (the
domain's first instruction before queries, and before passages of a symmetric
domain); exact inner-product search ranks the domain's passages, and --negatives
negatives per record are drawn from ranks [2, 100), positives excluded. The
records' previous negatives (BM25's, from data prepare) are replaced, unless
--keep-own keeps a seeded sample of them first, as prepare does with datasets' own
negatives.

It writes DIR/<domain>.jsonl and DIR/mixture.json (the input's weights,
instructions and flags); train on it with --mixture DIR/mixture.json. Lengths
default to those the model was trained with (its tdro_train.json). A rerun
reuses the domains already mined with the same model, input and options, so an
interrupted one resumes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case modelDir == "":
				return fmt.Errorf("--model is required")
			case mixPath == "":
				return fmt.Errorf("--mixture is required")
			case out == "":
				return fmt.Errorf("--out is required")
			case opt.Negatives <= 0:
				return fmt.Errorf("--negatives must be > 0, got %d", opt.Negatives)
			case len(window) != 2 || window[0] < 0 || window[1] <= window[0]:
				return fmt.Errorf("--window must be FROM,TO with 0 <= FROM < TO, got %v", window)
			}
			mix, err := data.LoadMixture(mixPath)
			if err != nil {
				return err
			}
			opt.Replace = !keepOwn
			opt.Window = prepare.Window{From: window[0], To: window[1]}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			_, rep, err := remine.WithModel(ctx, mix, remine.Options{
				Model: modelDir, QueryMaxLen: queryLen, PassageMaxLen: passageLen, BatchSize: batch,
				OutDir: out, Mine: opt,
			})
			if err != nil {
				return err
			}
			return rep.WriteTable(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelDir, "model", "", "trained retriever (model directory)")
	f.StringVar(&mixPath, "mixture", "", "mixture file whose domains are re-mined")
	f.StringVar(&out, "out", "", "output directory (mixture.json and one JSONL file per domain)")
	f.IntVar(&opt.Negatives, "negatives", prepare.DefaultNegatives, "hard negatives per record")
	f.Uint64Var(&opt.Seed, "seed", prepare.DefaultSeed, "sampling seed; each record's draw depends only on it and the query id")
	f.IntSliceVar(&window, "window", []int{prepare.PaperWindow.From, prepare.PaperWindow.To}, "ranks FROM,TO (0-based, TO excluded) negatives are drawn from")
	f.IntVar(&queryLen, "query-len", 0, "query tokens (0: the model's training length)")
	f.IntVar(&passageLen, "passage-len", 0, "passage tokens (0: the model's training length)")
	f.IntVar(&batch, "batch", 32, "texts per forward pass")
	f.BoolVar(&keepOwn, "keep-own", false, "keep a seeded sample of the records' previous negatives first")
	return cmd
}
