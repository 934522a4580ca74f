package eval

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tdro/tdro/bm25"
	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/eval/metrics"
	"github.com/tdro/tdro/internal/parallel"
)

// BM25 runs the BM25 baseline (package bm25, default analyzer and
// parameters) over every collection, under opts.Name (default "bm25").
func BM25(ctx context.Context, cols []*collection.Collection, opts Options) (*Results, error) {
	if opts.Name == "" {
		opts.Name = "bm25"
	}
	opts.fill()
	run := &RunResult{Name: opts.Name}
	for _, c := range cols {
		d, err := bm25Dataset(ctx, c, opts)
		if err != nil {
			return nil, fmt.Errorf("evaluate %s on %s: %w", opts.Name, c.Name, err)
		}
		run.Datasets = append(run.Datasets, d)
	}
	return &Results{Runs: []*RunResult{run}}, nil
}

func bm25Dataset(ctx context.Context, c *collection.Collection, opts Options) (*DatasetResult, error) {
	stats, warn, err := check(c)
	if err != nil {
		return nil, err
	}
	res := &DatasetResult{Dataset: c.Name, Language: c.Language, Run: opts.Name, Stats: stats, Warnings: warn}
	start := time.Now()
	texts := make([]string, len(c.Docs))
	for i, d := range c.Docs {
		texts[i] = DocText(d)
	}
	ix := bm25.New(texts)
	res.Timing.Index = time.Since(start).Seconds()
	start = time.Now()
	var queries []collection.Query
	for _, q := range c.Queries {
		if strings.TrimSpace(q.Text) != "" {
			queries = append(queries, q)
		}
	}
	results := make([][]metrics.Result, len(queries))
	err = parallel.For(ctx, len(queries), 1, func(i int) {
		hits := ix.Search(queries[i].Text, opts.Depth)
		rs := make([]metrics.Result, len(hits))
		for j, h := range hits {
			rs[j] = metrics.Result{DocID: c.Docs[h.Doc].ID, Score: h.Score}
		}
		results[i] = rs
	})
	if err != nil {
		return nil, err
	}
	res.Timing.Search = time.Since(start).Seconds()
	run := metrics.Run{}
	for i, q := range queries {
		if len(results[i]) > 0 { // no shared term: nothing retrieved
			run[q.ID] = results[i]
		}
	}
	return res, score(res, c, run, opts)
}
