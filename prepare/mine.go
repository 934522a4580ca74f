package prepare

import (
	"context"
	"hash/fnv"
	"math/rand/v2"
	"sort"

	"github.com/tdro/tdro/bm25"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/internal/parallel"
	"github.com/tdro/tdro/internal/progress"
)

// MineOptions configure hard-negative mining.
type MineOptions struct {
	Negatives int         // negatives per record after mining (<= 0: leave records alone)
	Window    bm25.Window // BM25 ranks to sample from (zero: bm25.PaperWindow, ranks [2, 100))
	Seed      uint64      // sampling seed; each record's draw depends only on Seed and its query id
	Label     string      // progress-bar label
}

// MineNegatives gives every record up to opt.Negatives hard negatives:
// first a seeded sample of the negatives it already has (same-article
// paragraphs, contradictions), then passages drawn from BM25 ranks
// [2, 100) of the query over the domain's passage pool — the distinct
// positive and negative passages of pool (nil: recs). Passages equal to one
// of the record's positives are never negatives. Records are changed in
// place; the result does not depend on the number of CPUs.
func MineNegatives(ctx context.Context, recs, pool []data.Record, opt MineOptions) error {
	if opt.Negatives <= 0 || len(recs) == 0 {
		return nil
	}
	if opt.Window == (bm25.Window{}) {
		opt.Window = bm25.PaperWindow
	}
	if pool == nil {
		pool = recs
	}
	corpus, texts := passagePool(pool)
	ix := bm25.New(texts)
	bar := progress.New(int64(len(recs)), "mine "+opt.Label)
	defer bar.Finish()
	return parallel.For(ctx, len(recs), 1, func(i int) {
		mineOne(&recs[i], ix, corpus, opt)
		bar.Add(1)
	})
}

// passagePool lists the distinct passages (by title and text) of recs in
// first-seen order, with the text BM25 indexes for each.
func passagePool(recs []data.Record) ([]data.Passage, []string) {
	seen := map[[2]string]bool{}
	var corpus []data.Passage
	var texts []string
	add := func(p data.Passage) {
		k := [2]string{p.Title, p.Text}
		if seen[k] {
			return
		}
		seen[k] = true
		corpus = append(corpus, p)
		texts = append(texts, p.Title+" "+p.Text)
	}
	for _, r := range recs {
		for _, p := range r.Positives {
			add(p)
		}
		for _, p := range r.Negatives {
			add(p)
		}
	}
	return corpus, texts
}

func mineOne(r *data.Record, ix *bm25.Index, corpus []data.Passage, opt MineOptions) {
	h := fnv.New64a()
	h.Write([]byte(r.QueryID))
	h.Write([]byte{0})
	h.Write([]byte(r.Query))
	rng := rand.New(rand.NewPCG(opt.Seed, h.Sum64()))
	positive := map[string]bool{}
	for _, p := range r.Positives {
		positive[p.Text] = true
	}
	// Existing negatives first (without repeats): a seeded sample, in their
	// original order.
	var negs []data.Passage
	taken := map[string]bool{}
	for _, p := range r.Negatives {
		if !positive[p.Text] && !taken[p.Text] {
			negs = append(negs, p)
			taken[p.Text] = true
		}
	}
	if len(negs) > opt.Negatives {
		idx := rng.Perm(len(negs))[:opt.Negatives]
		sort.Ints(idx)
		picked := make([]data.Passage, len(idx))
		for i, j := range idx {
			picked[i] = negs[j]
		}
		negs = picked
	}
	if need := opt.Negatives - len(negs); need > 0 {
		taken = map[string]bool{}
		for _, p := range negs {
			taken[p.Text] = true
		}
		skip := func(doc int) bool { return positive[corpus[doc].Text] || taken[corpus[doc].Text] }
		for _, d := range ix.SampleNegatives(r.Query, opt.Window, need, skip, rng) {
			negs = append(negs, corpus[d])
		}
	}
	r.Negatives = negs
}
