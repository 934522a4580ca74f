package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/tokenize"
	"github.com/tdro/tdro/train"
)

func init() {
	cmd := &cobra.Command{Use: "tokenizer", Short: "Fit a vocabulary to training data"}
	var mixture, out, alphabetFrom string
	o := tokenize.DefaultTrainOptions()
	trainCmd := &cobra.Command{
		Use:   "train --mixture FILE --out DIR [--vocab-size N]",
		Short: "Fit a WordPiece vocabulary to a mixture's training texts (a tokenizer.json Hugging Face loads)",
		Long: `train fits a WordPiece vocabulary to every text the trainer writes for the mixture's
records (queries after their domain's instruction, passages) the way Hugging Face's
WordPiece trainer does (byte-pair merges on BERT-normalized, pre-tokenized words, "##"
continuations), keeping accents, and writes tokenizer.json, tokenizer_config.json and
special_tokens_map.json into --out. The Rust tokenizers library (and so transformers and
sentence-transformers) loads them and encodes every text as tdro does.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if mixture == "" || out == "" {
				return fmt.Errorf("--mixture and --out are required")
			}
			mix, err := data.LoadMixture(mixture)
			if err != nil {
				return err
			}
			if alphabetFrom != "" {
				from, err := tokenize.Load(alphabetFrom)
				if err != nil {
					return fmt.Errorf("--alphabet-from: %w", err)
				}
				o.InitialAlphabet = from.Alphabet()
			}
			start := time.Now()
			tok, err := train.TrainTokenizer(mix, o, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d tokens fitted to %d domains in %s: %s\n", tok.VocabSize(), len(mix.Domains),
				time.Since(start).Round(time.Millisecond), tok.Path())
			return nil
		},
	}
	f := trainCmd.Flags()
	f.StringVar(&mixture, "mixture", "", "mixture.json whose records the vocabulary is fitted to (e.g. RUN/data/mixture.json)")
	f.StringVar(&out, "out", "", "directory for tokenizer.json, tokenizer_config.json, special_tokens_map.json")
	f.IntVar(&o.VocabSize, "vocab-size", o.VocabSize, "tokens in all, the 5 special ones included")
	f.IntVar(&o.MinFrequency, "min-frequency", o.MinFrequency, "characters and merges seen fewer times are left out")
	f.BoolVar(&o.Lowercase, "lowercase", o.Lowercase, "lowercase before splitting (accents are kept)")
	f.IntVar(&o.MaxCharsPerWord, "max-chars-per-word", o.MaxCharsPerWord, "longer words become one [UNK]")
	f.IntVar(&o.LimitAlphabet, "limit-alphabet", o.LimitAlphabet, "keep only this many most frequent characters (0: all)")
	f.StringVar(&alphabetFrom, "alphabet-from", "", "tokenizer whose characters all stay in the vocabulary (scripts the data lacks are spelt out, not [UNK])")
	cmd.AddCommand(trainCmd)
	rootCmd.AddCommand(cmd)
}
