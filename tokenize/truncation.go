package tokenize

import (
	"context"
	"sort"

	"github.com/tdro/tdro/internal/parallel"
)

// Truncation is what a token budget does to a set of texts: how long they
// are, how many it cuts and how much of their text it drops. It decides
// query and passage lengths from the data, never from scores.
type Truncation struct {
	Texts      int
	MeanTokens float64 // with the special tokens, before truncation
	P95Tokens  int
	Truncated  int     // texts longer than the budget
	Lost       float64 // share of all text tokens (special tokens excluded) the budget drops
	Unknown    float64 // share of text tokens that are the unknown token ([UNK]): text the vocabulary cannot represent
}

// Truncation measures texts against maxLen, counted as Encode counts (the
// template's special tokens and EOS included).
func (t *Tokenizer) Truncation(texts []string, maxLen int) Truncation {
	full := make([]int, len(texts))
	kept := make([]int, len(texts))
	unknown := make([]int, len(texts))
	parallel.For(context.Background(), len(texts), 16, func(i int) {
		ids := t.Encode(texts[i], 0)
		full[i] = len(ids)
		kept[i] = len(t.Encode(texts[i], maxLen))
		for _, id := range ids {
			if id == t.unkID {
				unknown[i]++
			}
		}
	})
	r := Truncation{Texts: len(texts)}
	if len(texts) == 0 {
		return r
	}
	special := len(t.Encode("", 0))
	body, lost, unk := 0, 0, 0
	for i := range texts {
		unk += unknown[i]
		r.MeanTokens += float64(full[i]) / float64(len(texts))
		if full[i] > kept[i] {
			r.Truncated++
		}
		body += full[i] - special
		lost += full[i] - kept[i]
	}
	if body > 0 {
		r.Lost = float64(lost) / float64(body)
		r.Unknown = float64(unk) / float64(body)
	}
	sorted := append([]int(nil), full...)
	sort.Ints(sorted)
	r.P95Tokens = sorted[min(len(sorted)-1, len(sorted)*95/100)]
	return r
}
