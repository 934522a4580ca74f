// Package bm25 is a small in-memory inverted index with Okapi BM25 ranking,
// a language-neutral analyzer that handles CJK text (see Analyze), and
// BM25 hard-negative sampling.
//
// Scoring follows Lucene's BM25Similarity as used by Pyserini:
//
//	score(q, d) = Σ_t qtf(t) · idf(t) · tf(t,d) / (tf(t,d) + k1·(1 − b + b·|d|/avgdl))
//	idf(t)      = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
//
// with Pyserini's defaults k1 = 0.9, b = 0.4 (DefaultParams). Lucene's
// lossy one-byte length encoding is not reproduced, so scores match Lucene's
// to a few digits rather than exactly. Results are deterministic: equal
// scores are ordered by document number.
//
// (A maintained Go engine with BM25 and a CJK bigram analyzer exists —
// bleve v2 — but it is a document database with its own storage, mapping
// and ~20 dependencies; mining negatives needs only a few hundred lines and
// a tight loop over postings.)
package bm25

import (
	"context"
	"math"
	"sync"

	"github.com/tdro/tdro/internal/parallel"
)

// Params are BM25's free parameters.
type Params struct {
	K1 float64 // term-frequency saturation
	B  float64 // document-length normalisation
}

// DefaultParams are Pyserini's BM25 defaults.
var DefaultParams = Params{K1: 0.9, B: 0.4}

// Options configure an index; zero fields take the defaults.
type Options struct {
	Params   Params   // zero: DefaultParams
	Analyzer Analyzer // nil: Analyze
}

// Hit is one search result: a document number (index into the texts given
// to New) and its score.
type Hit struct {
	Doc   int
	Score float64
}

type posting struct {
	doc int32
	tf  float32
}

// Index is an immutable BM25 index; Search is safe for concurrent use.
type Index struct {
	analyze  Analyzer
	params   Params
	terms    map[string]int32
	postings [][]posting
	idf      []float64
	norm     []float64 // k1·(1 − b + b·|d|/avgdl) per document
	scratch  sync.Pool
}

// New indexes texts with the default analyzer and parameters.
func New(texts []string) *Index { return NewWithOptions(texts, Options{}) }

// NewWithOptions indexes texts with the given analyzer and parameters.
// Analysis runs on all CPUs; term numbering follows document order, so the
// index is the same on every run.
func NewWithOptions(texts []string, opt Options) *Index {
	if opt.Params == (Params{}) {
		opt.Params = DefaultParams
	}
	if opt.Analyzer == nil {
		opt.Analyzer = Analyze
	}
	ix := &Index{analyze: opt.Analyzer, params: opt.Params, terms: map[string]int32{}}
	docs := analyzeAll(texts, opt.Analyzer)
	lengths := make([]float64, len(texts))
	total := 0.0
	for d, terms := range docs {
		lengths[d] = float64(len(terms))
		total += lengths[d]
		counts := map[int32]float32{}
		var order []int32
		for _, t := range terms {
			id, ok := ix.terms[t]
			if !ok {
				id = int32(len(ix.postings))
				ix.terms[t] = id
				ix.postings = append(ix.postings, nil)
			}
			if counts[id] == 0 {
				order = append(order, id)
			}
			counts[id]++
		}
		for _, id := range order {
			ix.postings[id] = append(ix.postings[id], posting{doc: int32(d), tf: counts[id]})
		}
	}
	n := float64(len(texts))
	avg := 1.0
	if total > 0 {
		avg = total / n
	}
	ix.norm = make([]float64, len(texts))
	for d, l := range lengths {
		ix.norm[d] = opt.Params.K1 * (1 - opt.Params.B + opt.Params.B*l/avg)
	}
	ix.idf = make([]float64, len(ix.postings))
	for t, p := range ix.postings {
		df := float64(len(p))
		ix.idf[t] = math.Log(1 + (n-df+0.5)/(df+0.5))
	}
	ix.scratch.New = func() any { return &scratch{scores: make([]float64, len(texts))} }
	return ix
}

// analyzeAll runs the analyzer over texts on all CPUs.
func analyzeAll(texts []string, analyze Analyzer) [][]string {
	out := make([][]string, len(texts))
	parallel.For(context.Background(), len(texts), 64, func(i int) { out[i] = analyze(texts[i]) })
	return out
}

// Len is the number of indexed documents.
func (ix *Index) Len() int { return len(ix.norm) }

// Terms is the vocabulary size.
func (ix *Index) Terms() int { return len(ix.postings) }

type scratch struct {
	scores  []float64
	touched []int32
}

// Search returns the k best documents for query, best first, ties by
// document number; k <= 0 returns every document that shares a term with
// the query. Repeated query terms count repeatedly, as in Lucene.
func (ix *Index) Search(query string, k int) []Hit {
	s := ix.scratch.Get().(*scratch)
	defer ix.scratch.Put(s)
	for _, t := range ix.analyze(query) {
		id, ok := ix.terms[t]
		if !ok {
			continue
		}
		w := ix.idf[id]
		for _, p := range ix.postings[id] {
			if s.scores[p.doc] == 0 {
				s.touched = append(s.touched, p.doc)
			}
			tf := float64(p.tf)
			s.scores[p.doc] += w * tf / (tf + ix.norm[p.doc])
		}
	}
	if k <= 0 || k > len(s.touched) {
		k = len(s.touched)
	}
	// Keep the k best in a min-heap under better (root = worst kept).
	h := make([]Hit, 0, k)
	for _, d := range s.touched {
		hit := Hit{Doc: int(d), Score: s.scores[d]}
		s.scores[d] = 0
		switch {
		case len(h) < k:
			h = append(h, hit)
			for i := len(h) - 1; i > 0; {
				parent := (i - 1) / 2
				if !better(h[parent], h[i]) {
					break
				}
				h[parent], h[i] = h[i], h[parent]
				i = parent
			}
		case k > 0 && better(hit, h[0]):
			h[0] = hit
			siftDown(h, 0)
		}
	}
	s.touched = s.touched[:0]
	out := make([]Hit, len(h))
	for i := len(h) - 1; i >= 0; i-- {
		out[i] = h[0]
		h[0] = h[len(h)-1]
		h = h[:len(h)-1]
		siftDown(h, 0)
	}
	return out
}

// siftDown restores the heap property below i.
func siftDown(h []Hit, i int) {
	for {
		worst, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && better(h[worst], h[l]) {
			worst = l
		}
		if r < len(h) && better(h[worst], h[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		h[i], h[worst] = h[worst], h[i]
		i = worst
	}
}

// better orders hits: higher score first, then lower document number.
func better(a, b Hit) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.Doc < b.Doc
}
