package tokenize

import (
	"math"
	"testing"

	"github.com/tdro/tdro/internal/shareddata"
)

// TestTruncation counts by hand on the MiniLM tokenizer: [CLS] and [SEP]
// wrap every text, so a budget of 5 keeps 3 text tokens.
func TestTruncation(t *testing.T) {
	tok, err := Load(shareddata.Dir(t, "tokenizers/all-MiniLM-L6-v2") + "/tokenizers/all-MiniLM-L6-v2")
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"one two three four five six", "one two", "one two three", "one ภาษาไทย"}
	// Text tokens: 6, 2, 3, 2 (Thai is one [UNK]), +2 special each: 8, 4, 5, 4.
	r := tok.Truncation(texts, 5)
	if r.Texts != 4 || r.Truncated != 1 || math.Abs(r.MeanTokens-21.0/4) > 1e-12 || r.P95Tokens != 8 || math.Abs(r.Lost-3.0/13) > 1e-12 ||
		math.Abs(r.Unknown-1.0/13) > 1e-12 {
		t.Errorf("Truncation = %+v, want 4 texts, 1 truncated, mean 21/4, p95 8, lost 3/13, unknown 1/13", r)
	}
}
