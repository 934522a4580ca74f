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
	Negatives int    // negatives per record after mining (<= 0: leave records alone)
	Window    Window // ranks to sample from (zero: PaperWindow, ranks [2, 100))
	Seed      uint64 // sampling seed; each record's draw depends only on Seed and its query id
	Label     string // progress-bar label
	// Retriever ranks the passage pool for each query (nil: BM25 over
	// title and text, the prepare default).
	Retriever Retriever
	// Replace drops the records' own negatives first, so that every
	// negative comes from Retriever: the paper's re-mining with a trained
	// model. False keeps them first (datasets' own negatives, such as
	// same-article paragraphs or contradictions).
	Replace bool
}

// A Retriever ranks a domain's passage pool for its queries: for each
// query, pool indexes best first, the first depth of them (all of them in a
// smaller pool). label names the domain on progress bars.
type Retriever interface {
	Rank(ctx context.Context, pool []data.Passage, queries []string, depth int, label string) ([][]int, error)
}

// BM25 is the lexical Retriever: Lucene BM25 over each passage's title and
// text.
type BM25 struct{}

// Rank implements Retriever.
func (BM25) Rank(ctx context.Context, pool []data.Passage, queries []string, depth int, label string) ([][]int, error) {
	texts := make([]string, len(pool))
	for i, p := range pool {
		texts[i] = p.Title + " " + p.Text
	}
	ix := bm25.New(texts)
	out := make([][]int, len(queries))
	bar := progress.New(int64(len(queries)), "mine "+label)
	defer bar.Finish()
	err := parallel.For(ctx, len(queries), 1, func(i int) {
		hits := ix.Search(queries[i], depth)
		out[i] = make([]int, len(hits))
		for j, h := range hits {
			out[i][j] = h.Doc
		}
		bar.Add(1)
	})
	return out, err
}

// MineNegatives gives every record up to opt.Negatives hard negatives:
// first (unless opt.Replace) a seeded sample of the negatives it already
// has (same-article paragraphs, contradictions), then passages drawn from
// ranks [2, 100) of the query's ranking by opt.Retriever over the domain's
// passage pool — the distinct positive and negative passages of pool (nil:
// recs). Passages equal to one of the record's positives are never
// negatives. Records are changed in place; the result does not depend on
// the number of CPUs.
func MineNegatives(ctx context.Context, recs, pool []data.Record, opt MineOptions) error {
	if opt.Negatives <= 0 || len(recs) == 0 {
		return nil
	}
	if opt.Window == (Window{}) {
		opt.Window = PaperWindow
	}
	if opt.Retriever == nil {
		opt.Retriever = BM25{}
	}
	if pool == nil {
		pool = recs
	}
	corpus := passagePool(pool)
	draws := make([]draw, len(recs))
	var queries []string
	var asked []int // records whose query is ranked
	for i := range recs {
		draws[i] = keepOwn(&recs[i], opt)
		if draws[i].need > 0 {
			queries = append(queries, recs[i].Query)
			asked = append(asked, i)
		}
	}
	ranked, err := opt.Retriever.Rank(ctx, corpus, queries, opt.Window.To, opt.Label)
	if err != nil {
		return err
	}
	for k, i := range asked {
		d := &draws[i]
		skip := func(doc int) bool { return d.positive[corpus[doc].Text] || d.taken[corpus[doc].Text] }
		for _, doc := range sampleRanked(ranked[k], opt.Window, d.need, skip, d.rng) {
			recs[i].Negatives = append(recs[i].Negatives, corpus[doc])
		}
	}
	return nil
}

// passagePool lists the distinct passages (by title and text) of recs in
// first-seen order.
func passagePool(recs []data.Record) []data.Passage {
	seen := map[[2]string]bool{}
	var corpus []data.Passage
	add := func(p data.Passage) {
		k := [2]string{p.Title, p.Text}
		if seen[k] {
			return
		}
		seen[k] = true
		corpus = append(corpus, p)
	}
	for _, r := range recs {
		for _, p := range r.Positives {
			add(p)
		}
		for _, p := range r.Negatives {
			add(p)
		}
	}
	return corpus
}

// draw is one record's mining state between keeping its own negatives and
// drawing the rest from the ranking.
type draw struct {
	rng             *rand.Rand
	positive, taken map[string]bool
	need            int
}

// keepOwn replaces r's negatives by a seeded sample of its own (none under
// opt.Replace) and says how many more to draw.
func keepOwn(r *data.Record, opt MineOptions) draw {
	h := fnv.New64a()
	h.Write([]byte(r.QueryID))
	h.Write([]byte{0})
	h.Write([]byte(r.Query))
	d := draw{rng: rand.New(rand.NewPCG(opt.Seed, h.Sum64())), positive: map[string]bool{}, taken: map[string]bool{}}
	for _, p := range r.Positives {
		d.positive[p.Text] = true
	}
	// Existing negatives first (without repeats): a seeded sample, in their
	// original order.
	var negs []data.Passage
	if !opt.Replace {
		for _, p := range r.Negatives {
			if !d.positive[p.Text] && !d.taken[p.Text] {
				negs = append(negs, p)
				d.taken[p.Text] = true
			}
		}
	}
	if len(negs) > opt.Negatives {
		idx := d.rng.Perm(len(negs))[:opt.Negatives]
		sort.Ints(idx)
		picked := make([]data.Passage, len(idx))
		for i, j := range idx {
			picked[i] = negs[j]
		}
		negs = picked
	}
	d.taken = map[string]bool{}
	for _, p := range negs {
		d.taken[p.Text] = true
	}
	r.Negatives = negs
	d.need = opt.Negatives - len(negs)
	return d
}
