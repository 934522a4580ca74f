package bm25_test

import (
	"testing"

	"github.com/tdro/tdro/bm25"
	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/internal/shareddata"
)

// mrr10 is the mean reciprocal rank of the first relevant document in the top 10.
func mrr10(c *collection.Collection) float64 {
	texts := make([]string, len(c.Docs))
	for i, d := range c.Docs {
		texts[i] = d.Title + " " + d.Text
	}
	ix := bm25.New(texts)
	sum := 0.0
	for _, q := range c.Queries {
		for r, h := range ix.Search(q.Text, 10) {
			if c.Qrels[q.ID][c.Docs[h.Doc].ID] > 0 {
				sum += 1 / float64(r+1)
				break
			}
		}
	}
	return sum / float64(len(c.Queries))
}

// BM25 must work as a retriever on real collections in several scripts,
// including Chinese; the floors are
// well below the measured values (see the log) but far above chance.
func TestBM25OnBundledCollections(t *testing.T) {
	cs, err := collection.Bundled(shareddata.Dir(t))
	if err != nil {
		t.Fatal(err)
	}
	floor := map[string]float64{"cran": 0.4, "cisi": 0.4, "med": 0.7, "xquadr-en": 0.6, "xquadr-zh": 0.6, "xquadr-de": 0.55}
	for _, c := range cs {
		want, ok := floor[c.Name]
		if !ok {
			continue
		}
		got := mrr10(c)
		t.Logf("%s: BM25 MRR@10 = %.3f", c.Name, got)
		if got < want {
			t.Errorf("%s: BM25 MRR@10 = %.3f, want >= %.2f", c.Name, got, want)
		}
	}
}
