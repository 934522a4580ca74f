package eval

import (
	"context"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/eval/metrics"
	"github.com/tdro/tdro/eval/search"
	"github.com/tdro/tdro/internal/shareddata"
)

// hashEncoder is a stand-in for model.Model: hashed bag of lowercase words,
// L2-normalized, so texts sharing words score high.
type hashEncoder struct {
	dim   int
	calls atomic.Int64
	texts atomic.Int64
	nan   string // a text that encodes to NaN
}

func (h *hashEncoder) Encode(texts []string, maxLen, batchSize int) ([][]float32, error) {
	h.calls.Add(1)
	h.texts.Add(int64(len(texts)))
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, h.dim)
		for _, w := range strings.Fields(strings.ToLower(t)) {
			f := fnv.New32a()
			f.Write([]byte(w))
			v[f.Sum32()%uint32(h.dim)]++
		}
		norm := float32(0)
		for _, x := range v {
			norm += x * x
		}
		for j := range v {
			v[j] /= float32(math.Sqrt(float64(norm))) + 1e-9
		}
		if h.nan != "" && t == h.nan {
			v[0] = float32(math.NaN())
		}
		out[i] = v
	}
	return out, nil
}

func tinyCollection() *collection.Collection {
	return &collection.Collection{
		Name: "tiny", Language: "en",
		Docs: []collection.Doc{
			{ID: "d1", Title: "Cats", Text: "cats purr and sleep"},
			{ID: "d2", Text: "dogs bark loudly at night"},
			{ID: "d3", Text: "the stock market fell today"},
			{ID: "d4", Text: "quantum computers use qubits"},
		},
		Queries: []collection.Query{{ID: "q1", Text: "why do cats purr"}, {ID: "q2", Text: "dogs bark"}, {ID: "q3", Text: "qubits"}},
		Qrels: map[string]map[string]int{
			"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 0}, "q3": {"d4": 1},
		},
	}
}

func TestEvaluateAndCache(t *testing.T) {
	enc := &hashEncoder{dim: 64}
	cache := t.TempDir()
	opts := Options{Name: "hash", CacheDir: cache, ModelKey: "hash-64", RunDir: t.TempDir()}
	old := chunkRows
	chunkRows = 3 // several chunks for 4 docs
	defer func() { chunkRows = old }()
	r1, err := Evaluate(context.Background(), enc, []*collection.Collection{tinyCollection()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	d := r1.Runs[0].Datasets[0]
	mrr, _ := d.Mean(metrics.Measure{Kind: metrics.MRR})
	if mrr != 1 {
		t.Errorf("MRR = %v, want 1 (each query shares words only with its document)", mrr)
	}
	if d.Timing.Cached {
		t.Error("first evaluation reported as cached")
	}
	calls := enc.calls.Load()
	r2, err := Evaluate(context.Background(), enc, []*collection.Collection{tinyCollection()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if enc.calls.Load() != calls || !r2.Runs[0].Datasets[0].Timing.Cached {
		t.Errorf("second evaluation encoded again (%d -> %d calls)", calls, enc.calls.Load())
	}
	for i, v := range r2.Runs[0].Datasets[0].Scores.Mean {
		if v != d.Scores.Mean[i] {
			t.Errorf("cached run differs on %v: %v vs %v", d.Scores.Measures[i], v, d.Scores.Mean[i])
		}
	}
	// Another model key misses the cache.
	opts.ModelKey = "other"
	if _, err := Evaluate(context.Background(), enc, []*collection.Collection{tinyCollection()}, opts); err != nil {
		t.Fatal(err)
	}
	if enc.calls.Load() == calls {
		t.Error("a different model key reused the cache")
	}
	// The run file was written and scores the same.
	run, _, err := metrics.ReadRun(filepath.Join(opts.RunDir, "tiny", "hash.trec"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := ScoreRun(tinyCollection(), run, Options{Name: "file"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Scores.Mean[0] != d.Scores.Mean[0] {
		t.Errorf("run file scores %v, evaluation %v", again.Scores.Mean[0], d.Scores.Mean[0])
	}
}

func TestEncodeResumesFromChunks(t *testing.T) {
	old := chunkRows
	chunkRows = 2
	defer func() { chunkRows = old }()
	texts := []string{"a b", "c d e", "f", "g h i j", "k l"}
	cache := t.TempDir()
	enc := &hashEncoder{dim: 16}
	opts := EncodeOptions{CacheDir: cache, ModelKey: "m"}
	e, err := Encode(context.Background(), enc, texts, opts)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := e.InOrder()
	e.Close()
	// Drop the last chunk as if interrupted: only its texts are encoded again.
	matches, _ := filepath.Glob(filepath.Join(cache, "*", "chunk-000002.f32"))
	if len(matches) != 1 {
		t.Fatalf("chunks: %v", matches)
	}
	os.Remove(matches[0])
	enc.texts.Store(0)
	e, err = Encode(context.Background(), enc, texts, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if enc.texts.Load() != 1 {
		t.Errorf("re-encoded %d texts, want 1", enc.texts.Load())
	}
	got, _ := e.InOrder()
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("text %d differs after resume", i)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	enc := &hashEncoder{dim: 32}
	dup := tinyCollection()
	dup.Docs = append(dup.Docs, collection.Doc{ID: "d1", Text: "again"})
	if _, err := Evaluate(context.Background(), enc, []*collection.Collection{dup}, Options{}); err == nil || !strings.Contains(err.Error(), "d1") {
		t.Errorf("duplicate docid: %v", err)
	}
	c := tinyCollection()
	c.Queries[2].Text = "  "
	c.Qrels["q1"]["ghost"] = 1
	r, err := Evaluate(context.Background(), enc, []*collection.Collection{c}, Options{CountMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	d := r.Runs[0].Datasets[0]
	if d.Stats.EmptyQueries != 1 || d.Stats.UnknownJudged != 1 || d.Stats.Evaluated != 3 || len(d.Warnings) != 2 {
		t.Errorf("stats %+v warnings %v", d.Stats, d.Warnings)
	}
	if mrr, _ := d.Mean(metrics.Measure{Kind: metrics.MRR}); math.Abs(mrr-2.0/3) > 1e-12 {
		t.Errorf("MRR %v, want 2/3 (empty query counts 0)", mrr)
	}
	enc.nan = "dogs bark"
	if _, err := Evaluate(context.Background(), enc, []*collection.Collection{tinyCollection()}, Options{}); err == nil || !strings.Contains(err.Error(), "non-finite") {
		t.Errorf("NaN embedding: %v", err)
	}
	if _, err := ScoreRun(tinyCollection(), metrics.Run{"q1": {{DocID: "d1", Score: math.NaN()}}}, Options{}); err == nil {
		t.Error("NaN run score accepted")
	}
	r2, err := ScoreRun(tinyCollection(), metrics.Run{"q1": {{DocID: "zzz", Score: 1}}}, Options{})
	if err != nil || r2.Stats.UnknownHits != 1 || r2.Stats.MissingInRun != 2 {
		t.Errorf("external run: %+v %v", r2, err)
	}
}

// TestScoreRunMatchesTrecEval scores the bundled CISI fixture run against the
// CISI collection as loaded by package collection: the means must be
// trec_eval's.
func TestScoreRunMatchesTrecEval(t *testing.T) {
	data := shareddata.Dir(t)
	c, err := collection.LoadSMART(filepath.Join(data, "eval", "classic", "cisi"))
	if err != nil {
		t.Fatal(err)
	}
	run, _, err := metrics.ReadRun(filepath.Join(data, "fixtures", "trec_eval", "cisi", "run.trec"))
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := metrics.ParseMeasures("map", "ndcg@10", "recall@100", "p@10")
	d, err := ScoreRun(c, run, Options{Measures: ms, CountMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.3660, 0.7468, 0.4807, 0.6697} // trec_eval -c, "all" lines
	for i, w := range want {
		if math.Abs(d.Scores.Mean[i]-w) > 1e-4 {
			t.Errorf("%v = %.5f, trec_eval %.4f", ms[i], d.Scores.Mean[i], w)
		}
	}
}

func TestBM25Baseline(t *testing.T) {
	data := shareddata.Dir(t)
	c, err := collection.LoadSMART(filepath.Join(data, "eval", "classic", "adi"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := BM25(context.Background(), []*collection.Collection{c, tinyCollection()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	adi := r.Runs[0].Dataset("adi")
	ndcg, _ := adi.Mean(metrics.Measure{Kind: metrics.NDCG, K: 10})
	if ndcg < 0.2 || ndcg > 0.8 {
		t.Errorf("BM25 nDCG@10 on ADI = %.4f, outside the plausible range", ndcg)
	}
	if mrr, _ := r.Runs[0].Dataset("tiny").Mean(metrics.Measure{Kind: metrics.MRR}); mrr != 1 {
		t.Errorf("BM25 on tiny: MRR %v", mrr)
	}
}

// TestSharedTextsEncodeOnce: two sets with the same corpus (as XQuAD-R's
// cross-lingual sets share the English sentences) encode it once per call.
func TestSharedTextsEncodeOnce(t *testing.T) {
	enc := &hashEncoder{dim: 32}
	a, b := tinyCollection(), tinyCollection()
	b.Name = "tiny-again"
	b.Queries = b.Queries[:2]
	if _, err := Evaluate(context.Background(), enc, []*collection.Collection{a, b}, Options{}); err != nil {
		t.Fatal(err)
	}
	// 4 docs + 3 queries, then only b's 2 (different) queries.
	if got := enc.texts.Load(); got != 9 {
		t.Errorf("encoded %d texts, want 9", got)
	}
}

// recordingEncoder remembers every text it is asked to encode.
type recordingEncoder struct {
	hashEncoder
	mu   sync.Mutex
	seen map[string]bool
}

func (r *recordingEncoder) Encode(texts []string, maxLen, batchSize int) ([][]float32, error) {
	r.mu.Lock()
	for _, t := range texts {
		r.seen[t] = true
	}
	r.mu.Unlock()
	return r.hashEncoder.Encode(texts, maxLen, batchSize)
}

func TestInstructedQueries(t *testing.T) {
	for _, tc := range []struct {
		name        string
		instruct    bool
		instruction string
		prefix      string
		want        string // how q2 reaches the encoder
	}{
		{"instructed", true, "Find the animal", "", "Instruct: Find the animal\nQuery: dogs bark"},
		{"plain", false, "Find the animal", "", "dogs bark"},
		{"no instruction known", true, "", "", "dogs bark"},
		{"prefix outside the template", true, "Find it", "query: ", "query: Instruct: Find it\nQuery: dogs bark"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := &recordingEncoder{hashEncoder: hashEncoder{dim: 16}, seen: map[string]bool{}}
			c := tinyCollection()
			c.Instruction = tc.instruction
			opts := Options{Name: "rec", Instruct: tc.instruct, QueryPrefix: tc.prefix}
			if _, err := Evaluate(context.Background(), enc, []*collection.Collection{c}, opts); err != nil {
				t.Fatal(err)
			}
			if !enc.seen[tc.want] {
				t.Errorf("encoder never saw %q; saw %v", tc.want, enc.seen)
			}
			if !enc.seen[DocText(c.Docs[1])] {
				t.Errorf("documents must be encoded without instruction or prefix; saw %v", enc.seen)
			}
		})
	}
}

func TestCacheMissesChangedCorpus(t *testing.T) {
	enc := &hashEncoder{dim: 16}
	opts := Options{Name: "hash", CacheDir: t.TempDir(), ModelKey: "hash-16"}
	c := tinyCollection()
	if _, err := Evaluate(context.Background(), enc, []*collection.Collection{c}, opts); err != nil {
		t.Fatal(err)
	}
	before := enc.texts.Load()
	c.Docs[2].Text = "the stock market rose today"
	r, err := Evaluate(context.Background(), enc, []*collection.Collection{c}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := enc.texts.Load() - before; got < int64(len(c.Docs)) || r.Runs[0].Datasets[0].Timing.Cached {
		t.Errorf("an edited corpus reused the cache: %d texts encoded again, cached=%v", got, r.Runs[0].Datasets[0].Timing.Cached)
	}
}

// lastDocSearcher stands in for an approximate index or an external vector
// engine: it answers every query with the corpus's last row.
type lastDocSearcher struct {
	n     int
	calls *int
}

func (s lastDocSearcher) Search(_ context.Context, queries [][]float32, k int) ([][]search.Hit, error) {
	*s.calls++
	out := make([][]search.Hit, len(queries))
	for i := range out {
		out[i] = []search.Hit{{Doc: s.n - 1, Score: 1}}
	}
	return out, nil
}

// TestPluggableSearcher: Options.NewSearcher replaces exact search, and its
// hits are what gets scored.
func TestPluggableSearcher(t *testing.T) {
	calls := 0
	opts := Options{Name: "ann", NewSearcher: func(corpus search.Vectors) search.Searcher {
		return lastDocSearcher{n: corpus.Len(), calls: &calls}
	}}
	r, err := Evaluate(context.Background(), &hashEncoder{dim: 32}, []*collection.Collection{tinyCollection()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	mrr, _ := r.Runs[0].Datasets[0].Mean(metrics.Measure{Kind: metrics.MRR})
	if calls == 0 || math.Abs(mrr-1.0/3) > 1e-12 {
		t.Errorf("searcher called %d times, MRR %v; want it used and MRR 1/3 (only q3's document d4 is the last row)", calls, mrr)
	}
}
