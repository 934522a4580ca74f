// Package eval measures retrieval quality: it encodes a collection's corpus
// and queries (with an on-disk embedding cache), retrieves with exact top-k
// search (package eval/search), scores the run with trec_eval's semantics
// (eval/metrics), and runs BM25 as the baseline every model is reported
// beside. Reports and significance marks live in eval/report and
// eval/significance.
//
// Bad input never turns into a silently wrong number: duplicate document or
// query ids and NaN scores are errors; empty queries and judgements of
// documents missing from the corpus are counted in DatasetResult.Stats and
// warned about.
package eval

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/eval/metrics"
	"github.com/tdro/tdro/eval/search"
	"github.com/tdro/tdro/tokenize"
)

// Options configure an evaluation.
//
// Options marshal to JSON as what decides an evaluation's numbers: fields
// that only name, locate or report (Name, CacheDir, ModelKey, RunDir, Logf,
// CountTokens) are left out, so a cache keyed on the JSON cannot go stale
// when an option is added. NewSearcher cannot be marshalled either: a caller
// that sets one keys its results on it separately.
type Options struct {
	Name     string            `json:"-"`        // run name in reports (default "model")
	Measures []metrics.Measure `json:"measures"` // default metrics.Default
	// Depth is how many documents are retrieved per query (default 1000,
	// as BEIR); MAP and recall beyond it are computed on this cut.
	Depth int `json:"depth"`
	// CountMissing scores judged queries that retrieve nothing (e.g. empty
	// queries) as 0 instead of dropping them (trec_eval -c). Default true via
	// DefaultOptions.
	CountMissing bool `json:"count_missing"`

	MaxLen      int    `json:"max_len"`       // tokens per text (default 512)
	QueryMaxLen int    `json:"query_max_len"` // tokens per query (default MaxLen)
	BatchSize   int    `json:"batch_size"`    // default 32
	QueryPrefix string `json:"query_prefix"`  // prepended to every query, e.g. "query: " (after Instruct's template)
	DocPrefix   string `json:"doc_prefix"`    // prepended to every document, e.g. "passage: "
	// Instruct encodes each query in the training template with its
	// collection's instruction (tokenize.Instruct(c.Instruction, query)),
	// as tdro's trainer writes queries; collections without one are encoded
	// plainly. BM25 never sees instructions.
	Instruct bool `json:"instruct"`

	CacheDir string `json:"-"` // embedding cache ("" = none)
	ModelKey string `json:"-"` // model fingerprint for the cache (DirKey, StoreKey)

	// RunDir, if set, receives one TREC run file per dataset: RunDir/<dataset>/<name>.trec.
	RunDir string `json:"-"`
	// NewSearcher builds the index over corpus vectors (default exact search).
	NewSearcher func(corpus search.Vectors) search.Searcher `json:"-"`
	// CountTokens, if set, lets encoding report tokens/s.
	CountTokens func(texts []string) int64 `json:"-"`
	// Logf receives warnings and progress lines (default: dropped).
	Logf func(format string, args ...any) `json:"-"`
}

// DefaultOptions are the options tdro eval uses.
func DefaultOptions() Options {
	return Options{Name: "model", Measures: metrics.Default, Depth: 1000, CountMissing: true, MaxLen: 512, BatchSize: 32}
}

func (o *Options) fill() {
	d := DefaultOptions()
	if o.Name == "" {
		o.Name = d.Name
	}
	if len(o.Measures) == 0 {
		o.Measures = d.Measures
	}
	if o.Depth <= 0 {
		o.Depth = d.Depth
	}
	if o.MaxLen <= 0 {
		o.MaxLen = d.MaxLen
	}
	if o.QueryMaxLen <= 0 {
		o.QueryMaxLen = o.MaxLen
	}
	if o.BatchSize <= 0 {
		o.BatchSize = d.BatchSize
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// Results are one or more runs over the same datasets.
type Results struct {
	Runs []*RunResult `json:"runs"`
}

// RunResult is one system (a model, BM25, an external run) on every dataset.
type RunResult struct {
	Name     string           `json:"name"`
	Datasets []*DatasetResult `json:"datasets"`
}

// DatasetResult is one run scored on one dataset.
type DatasetResult struct {
	Dataset  string `json:"dataset"`
	Language string `json:"language"`
	Run      string `json:"run"`
	// Instruction is the query instruction the run encoded queries with
	// ("" for plain queries: BM25, external runs, --instruct=false, or a
	// set tdro knows no instruction for, which is warned about).
	Instruction string          `json:"instruction"`
	Stats       Stats           `json:"stats"`
	Timing      Timing          `json:"timing"`
	Scores      *metrics.Scores `json:"-"`
	Warnings    []string        `json:"warnings,omitempty"`
}

// Stats count what went into a dataset's numbers.
type Stats struct {
	Docs          int `json:"docs"`
	Queries       int `json:"queries"`        // judged queries in the collection
	Evaluated     int `json:"evaluated"`      // queries in the means
	EmptyQueries  int `json:"empty_queries"`  // judged queries with empty text (retrieve nothing)
	UnknownJudged int `json:"unknown_judged"` // judgements of documents absent from the corpus
	UnknownHits   int `json:"unknown_hits"`   // retrieved documents absent from the corpus (external runs)
	MissingInRun  int `json:"missing_in_run"` // judged queries the run has no results for
}

// Timing records where the time went.
type Timing struct {
	EncodeCorpus    float64 `json:"encode_corpus_s"`
	EncodeQueries   float64 `json:"encode_queries_s"`
	Search          float64 `json:"search_s"`
	Index           float64 `json:"index_s,omitempty"`
	Tokens          int64   `json:"tokens,omitempty"`
	TokensPerSecond float64 `json:"tokens_per_s,omitempty"`
	Cached          bool    `json:"cached"`
}

// Mean returns the mean of m on this dataset (false if not computed).
func (d *DatasetResult) Mean(m metrics.Measure) (float64, bool) { return d.Scores.Value(m) }

// Run returns the named run, or nil.
func (r *Results) Run(name string) *RunResult {
	for _, x := range r.Runs {
		if x.Name == name {
			return x
		}
	}
	return nil
}

// Dataset returns the run's result on the named dataset, or nil.
func (r *RunResult) Dataset(name string) *DatasetResult {
	for _, d := range r.Datasets {
		if d.Dataset == name {
			return d
		}
	}
	return nil
}

// Merge combines results (e.g. BM25 and a model) into one; runs keep their
// order and a repeated run name is an error.
func Merge(parts ...*Results) (*Results, error) {
	out := &Results{}
	for _, p := range parts {
		for _, r := range p.Runs {
			if out.Run(r.Name) != nil {
				return nil, fmt.Errorf("merge results: run %q appears twice", r.Name)
			}
			out.Runs = append(out.Runs, r)
		}
	}
	return out, nil
}

// Datasets lists dataset names in first-seen order across runs.
func (r *Results) Datasets() []string {
	var out []string
	seen := map[string]bool{}
	for _, run := range r.Runs {
		for _, d := range run.Datasets {
			if !seen[d.Dataset] {
				seen[d.Dataset] = true
				out = append(out, d.Dataset)
			}
		}
	}
	return out
}

// Evaluate encodes and searches every collection with enc and scores the
// runs. It is the entry point for the pipeline and `tdro eval --model`.
func Evaluate(ctx context.Context, enc TextEncoder, cols []*collection.Collection, opts Options) (*Results, error) {
	opts.fill()
	run := &RunResult{Name: opts.Name}
	memo := map[string]*Embeddings{} // texts shared between sets (XQuAD-R corpora and questions) encode once
	defer func() {
		for _, e := range memo {
			e.Close()
		}
	}()
	for _, c := range cols {
		d, err := evaluateDense(ctx, enc, c, opts, memo)
		if err != nil {
			return nil, fmt.Errorf("evaluate %s on %s: %w", opts.Name, c.Name, err)
		}
		run.Datasets = append(run.Datasets, d)
	}
	return &Results{Runs: []*RunResult{run}}, nil
}

// check validates a collection and counts what would skew its numbers.
func check(c *collection.Collection) (Stats, []string, error) {
	if err := c.Validate(); err != nil {
		return Stats{}, nil, err
	}
	if len(c.Docs) == 0 || len(c.Queries) == 0 {
		return Stats{}, nil, fmt.Errorf("collection %s has %d documents and %d judged queries: nothing to evaluate", c.Name, len(c.Docs), len(c.Queries))
	}
	s := Stats{Docs: len(c.Docs), Queries: len(c.Queries)}
	warn := append([]string(nil), c.Warnings...)
	ids := c.DocIndex()
	for _, q := range c.Queries {
		if strings.TrimSpace(q.Text) == "" {
			s.EmptyQueries++
		}
		for d := range c.Qrels[q.ID] {
			if _, ok := ids[d]; !ok {
				s.UnknownJudged++
			}
		}
	}
	if s.EmptyQueries > 0 {
		warn = append(warn, fmt.Sprintf("%d judged queries have empty text and retrieve nothing", s.EmptyQueries))
	}
	if s.UnknownJudged > 0 {
		warn = append(warn, fmt.Sprintf("%d judgements name documents absent from the corpus (they can never be retrieved)", s.UnknownJudged))
	}
	return s, warn, nil
}

// DocText is how a document is shown to a retriever: title, then text, as
// training shows passages (data.TitleText).
func DocText(d collection.Doc) string { return data.TitleText(d.Title, d.Text) }

// queryText is a query as a dense model encodes it: the prefix, then the
// query in the instruction template when opts.Instruct is set.
func queryText(c *collection.Collection, q collection.Query, opts Options) string {
	text := q.Text
	if opts.Instruct {
		text = tokenize.Instruct(c.Instruction, text)
	}
	return opts.QueryPrefix + text
}

// encodeOnce is Encode remembered by texts and max length for one Evaluate call.
func encodeOnce(ctx context.Context, enc TextEncoder, texts []string, eo EncodeOptions, memo map[string]*Embeddings) (e *Embeddings, fresh bool, err error) {
	key := fmt.Sprintf("%d/%s", eo.MaxLen, TextKey(texts))
	if e, ok := memo[key]; ok {
		return e, false, nil
	}
	e, err = Encode(ctx, enc, texts, eo)
	if err == nil {
		memo[key] = e
	}
	return e, true, err
}

func evaluateDense(ctx context.Context, enc TextEncoder, c *collection.Collection, opts Options, memo map[string]*Embeddings) (*DatasetResult, error) {
	stats, warn, err := check(c)
	if err != nil {
		return nil, err
	}
	res := &DatasetResult{Dataset: c.Name, Language: c.Language, Run: opts.Name, Stats: stats, Warnings: warn}
	if opts.Instruct {
		res.Instruction = c.Instruction
		if c.Instruction == "" {
			res.Warnings = append(res.Warnings, fmt.Sprintf("no query instruction is known for a set named %q: its queries were encoded plainly, unlike training's (give one: tdro eval --instruction, or eval.instruction in a run config)", c.Name))
		}
	}
	docs := make([]string, len(c.Docs))
	for i, d := range c.Docs {
		docs[i] = opts.DocPrefix + DocText(d)
	}
	var queries []string
	var qids []string
	for _, q := range c.Queries {
		if strings.TrimSpace(q.Text) != "" {
			queries = append(queries, queryText(c, q, opts))
			qids = append(qids, q.ID)
		}
	}
	eo := EncodeOptions{MaxLen: opts.MaxLen, BatchSize: opts.BatchSize, CacheDir: opts.CacheDir, ModelKey: opts.ModelKey,
		Label: c.Name + " corpus", CountTokens: opts.CountTokens}
	corpus, freshC, err := encodeOnce(ctx, enc, docs, eo, memo)
	if err != nil {
		return nil, err
	}
	eo.MaxLen, eo.Label = opts.QueryMaxLen, c.Name+" queries"
	qemb, freshQ, err := encodeOnce(ctx, enc, queries, eo, memo)
	if err != nil {
		return nil, err
	}
	res.Timing.Cached = true
	for _, x := range []struct {
		e     *Embeddings
		fresh bool
		secs  *float64
	}{{corpus, freshC, &res.Timing.EncodeCorpus}, {qemb, freshQ, &res.Timing.EncodeQueries}} {
		if !x.fresh { // encoded for an earlier set of this call
			continue
		}
		*x.secs = x.e.Elapsed.Seconds()
		res.Timing.Tokens += x.e.Tokens
		res.Timing.Cached = res.Timing.Cached && x.e.Cached
	}
	if t := res.Timing.EncodeCorpus + res.Timing.EncodeQueries; t > 0 && res.Timing.Tokens > 0 {
		res.Timing.TokensPerSecond = float64(res.Timing.Tokens) / t
	}
	if qemb.Vectors.Len() > 0 && qemb.Vectors.Dim() != corpus.Vectors.Dim() {
		return nil, fmt.Errorf("queries encode to %d dimensions, documents to %d", qemb.Vectors.Dim(), corpus.Vectors.Dim())
	}
	qvecs, err := qemb.InOrder()
	if err != nil {
		return nil, err
	}
	var searcher search.Searcher = &search.Exact{Corpus: corpus.Vectors}
	if opts.NewSearcher != nil {
		searcher = opts.NewSearcher(corpus.Vectors)
	}
	start := time.Now()
	hits, err := searcher.Search(ctx, qvecs, opts.Depth)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	res.Timing.Search = time.Since(start).Seconds()
	run := metrics.Run{}
	for i, hs := range hits {
		rs := make([]metrics.Result, len(hs))
		for j, h := range hs {
			rs[j] = metrics.Result{DocID: c.Docs[corpus.Order[h.Doc]].ID, Score: float64(h.Score)}
		}
		run[qids[i]] = rs
	}
	return res, score(res, c, run, opts)
}

// InOrder reads the vectors back into input order: row i is text i's.
func (e *Embeddings) InOrder() ([][]float32, error) {
	n, d := e.Vectors.Len(), e.Vectors.Dim()
	flat, err := e.Vectors.Rows(0, n, make([]float32, n*d))
	if err != nil {
		return nil, err
	}
	out := make([][]float32, n)
	for r, i := range e.Order {
		out[i] = flat[r*d : (r+1)*d]
	}
	return out, nil
}

// ScoreRun scores an existing run (e.g. a TREC run file from another
// system) on collection c, under opts.Name.
func ScoreRun(c *collection.Collection, run metrics.Run, opts Options) (*DatasetResult, error) {
	opts.fill()
	stats, warn, err := check(c)
	if err != nil {
		return nil, err
	}
	res := &DatasetResult{Dataset: c.Name, Language: c.Language, Run: opts.Name, Stats: stats, Warnings: warn}
	ids := c.DocIndex()
	for _, rs := range run {
		for _, r := range rs {
			if _, ok := ids[r.DocID]; !ok {
				res.Stats.UnknownHits++
			}
		}
	}
	if res.Stats.UnknownHits > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d retrieved documents are absent from the corpus", res.Stats.UnknownHits))
	}
	return res, score(res, c, run, opts)
}

func score(res *DatasetResult, c *collection.Collection, run metrics.Run, opts Options) error {
	qrels := metrics.Qrels{}
	for _, q := range c.Queries {
		qrels[q.ID] = c.Qrels[q.ID]
	}
	s, err := metrics.Evaluate(qrels, run, opts.Measures, metrics.Options{CountMissing: opts.CountMissing})
	if err != nil {
		return err
	}
	res.Scores = s
	res.Stats.Evaluated = len(s.Queries)
	res.Stats.MissingInRun = len(s.Missing)
	if n := len(s.Missing) - res.Stats.EmptyQueries; n > 0 {
		how := "left out of the means"
		if opts.CountMissing {
			how = "scored 0"
		}
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d judged queries have no results in the run (%s)", n, how))
	}
	if len(s.Unjudged) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d run queries have no judgements (skipped)", len(s.Unjudged)))
	}
	for _, w := range res.Warnings {
		opts.Logf("%s / %s: %s", c.Name, opts.Name, w)
	}
	if opts.RunDir != "" {
		return metrics.WriteRun(filepath.Join(opts.RunDir, c.Name, opts.Name+".trec"), run, runTag(opts.Name), opts.Depth)
	}
	return nil
}

// runTag makes a run name usable as a TREC run tag (one word).
func runTag(name string) string {
	tag := strings.Join(strings.Fields(name), "_")
	if tag == "" {
		return "tdro"
	}
	return tag
}
