package prepare

import (
	"context"
	"fmt"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/eval"
	"github.com/tdro/tdro/eval/search"
)

// Dense is the Retriever of a trained embedding model, the paper's recipe
// for hard negatives: every pool passage and query is encoded as the model
// was trained to read them, and exact inner-product search ranks the pool.
type Dense struct {
	Encoder eval.TextEncoder
	// Query and Passage give the text the model reads (the domain's
	// instruction before queries, and before passages in a symmetric
	// domain); nil: the text as it is.
	Query   func(query string) string
	Passage func(p data.Passage) string
	// QueryMaxLen and PassageMaxLen are token budgets (the training
	// lengths); BatchSize is texts per forward pass (0: eval.Encode's).
	QueryMaxLen, PassageMaxLen, BatchSize int
}

// Rank implements Retriever.
func (d Dense) Rank(ctx context.Context, pool []data.Passage, queries []string, depth int, label string) ([][]int, error) {
	if len(queries) == 0 {
		return nil, nil
	}
	docs := make([]string, len(pool))
	for i, p := range pool {
		if d.Passage != nil {
			docs[i] = d.Passage(p)
		} else {
			docs[i] = data.TitleText(p.Title, p.Text)
		}
	}
	qs := queries
	if d.Query != nil {
		qs = make([]string, len(queries))
		for i, q := range queries {
			qs[i] = d.Query(q)
		}
	}
	corpus, err := eval.Encode(ctx, d.Encoder, docs, eval.EncodeOptions{MaxLen: d.PassageMaxLen, BatchSize: d.BatchSize, Label: label + " passages"})
	if err != nil {
		return nil, fmt.Errorf("encode %s passages: %w", label, err)
	}
	defer corpus.Close()
	qemb, err := eval.Encode(ctx, d.Encoder, qs, eval.EncodeOptions{MaxLen: d.QueryMaxLen, BatchSize: d.BatchSize, Label: label + " queries"})
	if err != nil {
		return nil, fmt.Errorf("encode %s queries: %w", label, err)
	}
	defer qemb.Close()
	qvecs, err := qemb.InOrder()
	if err != nil {
		return nil, err
	}
	hits, err := (&search.Exact{Corpus: corpus.Vectors}).Search(ctx, qvecs, depth)
	if err != nil {
		return nil, fmt.Errorf("search %s: %w", label, err)
	}
	out := make([][]int, len(hits))
	for i, hs := range hits {
		out[i] = make([]int, len(hs))
		for j, h := range hs {
			out[i][j] = corpus.Order[h.Doc]
		}
	}
	return out, nil
}
