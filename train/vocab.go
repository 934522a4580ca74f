package train

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/internal/atomicfile"
	"github.com/tdro/tdro/tokenize"
)

// TrainTokenizer fits a WordPiece vocabulary to every text the trainer can
// write for the mixture's records (queries after their instruction,
// passages) and writes the tokenizer files into dir; it returns them
// loaded, as every later stage will load them.
func TrainTokenizer(mix *data.Mixture, o tokenize.TrainOptions, dir string) (*tokenize.Tokenizer, error) {
	var readErr error
	texts := func(yield func(string) bool) {
		for _, d := range mix.Domains {
			recs, err := data.ReadRecords(d.Path)
			if err != nil {
				readErr = err
				return
			}
			stop := false
			DomainTexts(d, recs, func(_ bool, t string) {
				if !stop && !yield(t) {
					stop = true
				}
			})
			if stop {
				return
			}
		}
	}
	files, err := tokenize.TrainWordPiece(texts, o)
	if readErr != nil {
		return nil, fmt.Errorf("train tokenizer: %w", readErr)
	}
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for name, b := range files {
		if err := atomicfile.WriteFile(filepath.Join(dir, name), b); err != nil {
			return nil, err
		}
	}
	return tokenize.Load(dir)
}
