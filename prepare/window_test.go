package prepare

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/tdro/tdro/bm25"
)

// BM25 mining's draw: ranks [2, 100) of a BM25 ranking, seeded, positives
// skipped, in rank order.
func TestSampleRanked(t *testing.T) {
	texts := make([]string, 300)
	for i := range texts {
		texts[i] = fmt.Sprintf("alpha beta %d", i)
		if i%3 == 0 {
			texts[i] += " gamma"
		}
	}
	ranking := func(ix *bm25.Index, query string) []int {
		var docs []int
		for _, h := range ix.Search(query, PaperWindow.To) {
			docs = append(docs, h.Doc)
		}
		return docs
	}
	ranked := ranking(bm25.New(texts), "alpha gamma")
	rank := map[int]int{}
	for i, d := range ranked {
		rank[d] = i
	}
	positive := func(d int) bool { return d == ranked[5] }
	a := sampleRanked(ranked, PaperWindow, 8, positive, rand.New(rand.NewPCG(1, 2)))
	b := sampleRanked(ranked, PaperWindow, 8, positive, rand.New(rand.NewPCG(1, 2)))
	c := sampleRanked(ranked, PaperWindow, 8, positive, rand.New(rand.NewPCG(9, 9)))
	if !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, c) || len(a) != 8 {
		t.Errorf("seeded sampling: %v %v %v", a, b, c)
	}
	for i, d := range a {
		r, ok := rank[d]
		if !ok || r < 2 || r >= 100 || positive(d) {
			t.Errorf("negative %d has rank %d (ok=%v)", d, r, ok)
		}
		if i > 0 && rank[a[i-1]] >= r {
			t.Errorf("negatives not in rank order: %v", a)
		}
	}
	// Fewer candidates than n: all of ranks [2, len).
	small := bm25.New([]string{"q a", "q b", "q c", "q d", "other"})
	if got := sampleRanked(ranking(small, "q"), PaperWindow, 10, nil, rand.New(rand.NewPCG(1, 1))); !reflect.DeepEqual(got, []int{2, 3}) {
		t.Errorf("small corpus negatives %v", got)
	}
}
