// Package search finds the k best-scoring corpus vectors for each query by
// inner product. Exact does it by brute force over blocks of the corpus with a
// bounded heap per query, so memory stays bounded however large the corpus;
// an approximate index or an external vector engine can replace it behind
// the Searcher interface.
package search

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"

	"github.com/tdro/tdro/backend"
)

// Hit is one retrieved corpus row.
type Hit struct {
	Doc   int     // row index in the corpus
	Score float32 // inner product with the query
}

// Searcher returns, for each query vector, its k best corpus rows, best
// first, ties by row index ascending.
type Searcher interface {
	Search(ctx context.Context, queries [][]float32, k int) ([][]Hit, error)
}

// Vectors is a row-major float32 matrix readable a block of rows at a time,
// in memory (Matrix) or streamed from disk.
type Vectors interface {
	Len() int
	Dim() int
	// Rows returns rows [start, end) as one slice of (end-start)*Dim floats;
	// it may fill and return buf (len >= (end-start)*Dim) or return a view.
	Rows(start, end int, buf []float32) ([]float32, error)
}

// Matrix is an in-memory Vectors.
type Matrix struct {
	Data []float32 // N*D values, row-major
	N, D int
}

// NewMatrix copies rows (all of length d) into one contiguous matrix.
func NewMatrix(rows [][]float32, d int) (*Matrix, error) {
	m := &Matrix{Data: make([]float32, 0, len(rows)*d), N: len(rows), D: d}
	for i, r := range rows {
		if len(r) != d {
			return nil, fmt.Errorf("row %d has %d values, want %d", i, len(r), d)
		}
		m.Data = append(m.Data, r...)
	}
	return m, nil
}

func (m *Matrix) Len() int { return m.N }
func (m *Matrix) Dim() int { return m.D }
func (m *Matrix) Rows(start, end int, _ []float32) ([]float32, error) {
	return m.Data[start*m.D : end*m.D], nil
}

// Exact is brute-force inner-product search over Corpus.
type Exact struct {
	Corpus Vectors
	// Product computes the block score products. Default: a GoMLX graph on
	// the process backend (package backend), which measured faster than the
	// pure-Go kernel here (BenchmarkExactSearch: 30.6 vs 22.7 GFLOP/s on two
	// cores), or GoProduct when no backend can be had.
	Product Product
	// BlockRows is how many corpus rows each worker reads at a time
	// (default 4096); memory is Workers*BlockRows*(Dim+QueryBlock) floats
	// plus k hits per query per worker.
	BlockRows int
	// QueryBlock is how many queries are scored against a corpus block at
	// once (default 1024).
	QueryBlock int
	// Workers is the number of goroutines (default GOMAXPROCS).
	Workers int
}

// Product writes out[i*nc+j] = dot(q row i, c row j) for row-major q
// (nq x d) and c (nc x d), nq = len(q)/d, nc = len(c)/d. It must be safe
// for concurrent use.
type Product func(q, c []float32, d int, out []float32) error

// GoProduct is the pure-Go product: AVX2+FMA tiles when built with
// GOEXPERIMENT=simd on amd64, a portable loop otherwise. It tiles the corpus
// rows so that each tile stays in L2 while every query passes over it.
func GoProduct(q, c []float32, d int, out []float32) error {
	nq, nc := len(q)/d, len(c)/d
	if len(out) < nq*nc {
		return fmt.Errorf("search: product output has %d values, need %d", len(out), nq*nc)
	}
	for t := 0; t < nc; t += docTile {
		nt := min(docTile, nc-t)
		scores(q, c[t*d:(t+nt)*d], d, nq, nt, out[t:], nc)
	}
	return nil
}

var defaultProduct = sync.OnceValue(func() Product {
	if be, err := backend.Get(); err == nil {
		if p, err := NewGoMLXProduct(be); err == nil {
			return p
		}
	}
	return GoProduct
})

// docTile is the number of corpus rows scored against all queries before
// moving on, sized so a tile of 768-dim rows stays in L2.
const docTile = 64

// Search implements Searcher.
func (e *Exact) Search(ctx context.Context, queries [][]float32, k int) ([][]Hit, error) {
	d, n := e.Corpus.Dim(), e.Corpus.Len()
	q, err := NewMatrix(queries, d)
	if err != nil {
		return nil, fmt.Errorf("queries: %w", err)
	}
	if k > n {
		k = n
	}
	if k <= 0 || len(queries) == 0 {
		return make([][]Hit, len(queries)), nil
	}
	block := e.BlockRows
	if block <= 0 {
		block = 4096
	}
	product := e.Product
	if product == nil {
		product = defaultProduct()
	}
	qblock := e.QueryBlock
	if qblock <= 0 {
		qblock = 1024
	}
	workers := e.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if nb := (n + block - 1) / block; workers > nb {
		workers = nb
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	go func() {
		defer close(next)
		for start := 0; start < n; start += block {
			select {
			case next <- start:
			case <-ctx.Done():
				return
			}
		}
	}()
	heaps := make([][]topK, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		heaps[w] = make([]topK, q.N)
		for i := range heaps[w] {
			heaps[w][i] = topK{k: k, hits: make([]Hit, 0, k)}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]float32, block*d)
			scores := make([]float32, min(qblock, q.N)*block)
			for start := range next {
				end := min(start+block, n)
				rows, err := e.Corpus.Rows(start, end, buf)
				if err == nil {
					err = e.scoreBlock(product, q, rows, start, qblock, scores, heaps[w])
				}
				if err != nil {
					errs[w] = fmt.Errorf("corpus rows %d-%d: %w", start, end, err)
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if err := parent.Err(); err != nil {
		return nil, err
	}
	out := make([][]Hit, q.N)
	for i := range out {
		h := heaps[0][i]
		for w := 1; w < workers; w++ {
			for _, hit := range heaps[w][i].hits {
				h.push(hit)
			}
		}
		out[i] = h.sorted()
	}
	return out, nil
}

// scoreBlock scores corpus rows (starting at row start) against the
// queries, qblock queries at a time, and offers every score to the heaps.
func (e *Exact) scoreBlock(product Product, q *Matrix, rows []float32, start, qblock int, buf []float32, heaps []topK) error {
	d := q.D
	nc := len(rows) / d
	for q0 := 0; q0 < q.N; q0 += qblock {
		q1 := min(q0+qblock, q.N)
		out := buf[:(q1-q0)*nc]
		if err := product(q.Data[q0*d:q1*d], rows, d, out); err != nil {
			return err
		}
		for i := q0; i < q1; i++ {
			h := &heaps[i]
			for j, s := range out[(i-q0)*nc : (i-q0+1)*nc] {
				h.push(Hit{Doc: start + j, Score: s})
			}
		}
	}
	return nil
}

// topK is a bounded min-heap keeping the k best hits (higher score, then
// lower row index, is better).
type topK struct {
	k    int
	hits []Hit
}

func better(a, b Hit) bool { return a.Score > b.Score || (a.Score == b.Score && a.Doc < b.Doc) }

func (h *topK) push(x Hit) {
	if len(h.hits) < h.k {
		h.hits = append(h.hits, x)
		for i := len(h.hits) - 1; i > 0; {
			p := (i - 1) / 2
			if !better(h.hits[p], h.hits[i]) {
				break
			}
			h.hits[p], h.hits[i] = h.hits[i], h.hits[p]
			i = p
		}
		return
	}
	if !better(x, h.hits[0]) {
		return
	}
	h.hits[0] = x
	for i, n := 0, len(h.hits); ; {
		l, worst := 2*i+1, i
		if l < n && better(h.hits[worst], h.hits[l]) {
			worst = l
		}
		if r := l + 1; r < n && better(h.hits[worst], h.hits[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		h.hits[i], h.hits[worst] = h.hits[worst], h.hits[i]
		i = worst
	}
}

func (h *topK) sorted() []Hit {
	out := append([]Hit(nil), h.hits...)
	sort.Slice(out, func(i, j int) bool { return better(out[i], out[j]) })
	return out
}
