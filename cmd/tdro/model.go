package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tdro/tdro/backend"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/model"
	"github.com/tdro/tdro/tokenize"
)

func init() {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Create, import, inspect and run retrieval models (Hugging Face checkpoint directories)",
	}

	var tokDir, preset, out string
	var seed uint64
	initCmd := &cobra.Command{
		Use:   "init --preset NAME --tokenizer DIR --out DIR",
		Short: "Write a randomly initialized model (a from-scratch preset) as a Hugging Face checkpoint",
		Long: `init builds a preset with seeded random weights and the given tokenizer and saves it as a
Hugging Face checkpoint (config.json, model.safetensors, tokenizer files, sentence-transformers
pooling). Presets: ` + strings.Join(model.PresetNames, ", ") + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" || tokDir == "" {
				return fmt.Errorf("--out and --tokenizer are required")
			}
			tok, err := tokenize.Load(tokDir)
			if err != nil {
				return err
			}
			cfg, err := model.Preset(preset, tok.VocabSize())
			if err != nil {
				return err
			}
			m, err := model.New(cfg, tok, seed)
			if err != nil {
				return err
			}
			if err := m.Save(out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s, %d parameters\n", out, preset, m.NumParameters())
			return nil
		},
	}
	initCmd.Flags().StringVar(&preset, "preset", "tiny-bert", "preset name")
	initCmd.Flags().StringVar(&tokDir, "tokenizer", "", "tokenizer.json or a directory holding one")
	initCmd.Flags().StringVar(&out, "out", "", "checkpoint directory to write")
	initCmd.Flags().Uint64Var(&seed, "seed", 1, "initialization seed")

	var impTok, impOut string
	importCmd := &cobra.Command{
		Use:   "import-llama2c FILE.bin --out DIR [--tokenizer DIR]",
		Short: "Convert a llama2.c checkpoint to a Hugging Face Llama checkpoint",
		Long: `import-llama2c reads a karpathy/llama2.c checkpoint (run.c format), permutes the query and key
rows from llama2.c's interleaved RoPE to Hugging Face's rotate_half layout, and saves a
Hugging Face checkpoint with last-token pooling. llama2.c keeps its tokenizer in its own
format, so --tokenizer (a tokenizer.json whose vocabulary fits the model's) is optional; without
it the checkpoint has no tokenizer files and tdro needs one added before it can load it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if impOut == "" {
				return fmt.Errorf("--out is required")
			}
			var tok *tokenize.Tokenizer
			if impTok != "" {
				var err error
				if tok, err = tokenize.Load(impTok); err != nil {
					return err
				}
			}
			m, err := model.ImportLlama2C(args[0], tok)
			if err != nil {
				return err
			}
			if err := m.Save(impOut); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: llama, %d layers, hidden %d, %d parameters\n",
				impOut, m.Config.NumLayers, m.Config.HiddenSize, m.NumParameters())
			return nil
		},
	}
	importCmd.Flags().StringVar(&impTok, "tokenizer", "", "tokenizer.json or a directory holding one")
	importCmd.Flags().StringVar(&impOut, "out", "", "checkpoint directory to write")

	infoCmd := &cobra.Command{
		Use:   "info DIR",
		Short: "Print a checkpoint's architecture, size, pooling and tokenizer",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := model.Load(args[0])
			if err != nil {
				return err
			}
			c := m.Config
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "model_type   %s\nlayers       %d\nhidden       %d\nheads        %d (kv %d)\nffn          %d\nvocab        %d\nparameters   %d\npooling      %s\nnormalize    %v\n",
				c.ModelType, c.NumLayers, c.HiddenSize, c.NumHeads, c.KVHeads(), c.IntermediateSize, c.VocabSize,
				m.NumParameters(), c.Pooling, c.Normalize)
			fmt.Fprintf(w, "tokenizer    %d tokens, pad %d, eos %d, append eos %v, special tokens %v\n",
				m.Tokenizer.VocabSize(), m.Tokenizer.PadID(), m.Tokenizer.EOSID(), m.Tokenizer.AppendEOS, !m.Tokenizer.NoSpecialTokens)
			return nil
		},
	}

	var maxLen, batch int
	var instruction string
	encodeCmd := &cobra.Command{
		Use:   "encode DIR < texts.txt > embeddings.jsonl",
		Short: "Embed texts (one per line on stdin, UTF-8, none empty) and print one JSON array per line, in input order",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := backend.Get(); err != nil {
				return err
			}
			m, err := model.Load(args[0])
			if err != nil {
				return err
			}
			texts, err := readLines(cmd.InOrStdin())
			if err != nil {
				return err
			}
			for i := range texts {
				texts[i] = tokenize.Instruct(instruction, texts[i])
			}
			vecs, err := m.Encode(texts, maxLen, batch)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			enc := json.NewEncoder(w)
			for _, v := range vecs {
				if err := enc.Encode(v); err != nil {
					return err
				}
			}
			return w.Flush()
		},
	}
	encodeCmd.Flags().IntVar(&maxLen, "max-len", 256, "truncate texts to this many tokens")
	encodeCmd.Flags().IntVar(&batch, "batch", 32, "texts per forward pass")
	encodeCmd.Flags().StringVar(&instruction, "instruction", "", `task instruction ("Instruct: {task}\nQuery: {text}")`)

	cmd.AddCommand(initCmd, importCmd, infoCmd, encodeCmd)
	rootCmd.AddCommand(cmd)
}

// readLines reads one text per line, UTF-8. An empty (or blank) line is an
// error naming it: output line i must be the embedding of input line i, so
// no line may be dropped.
func readLines(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for line := 1; sc.Scan(); line++ {
		b, err := data.CheckLine("stdin", line, sc.Bytes())
		if err != nil {
			return nil, err
		}
		text := strings.TrimRight(string(b), "\r")
		if strings.TrimSpace(text) == "" {
			return nil, fmt.Errorf("stdin line %d: empty text (every line is one text and gets one embedding, in order; remove the line or give it a text)", line)
		}
		out = append(out, text)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	return out, nil
}
