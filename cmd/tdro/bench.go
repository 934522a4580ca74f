package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tdro/tdro/backend"
	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/eval"
	"github.com/tdro/tdro/eval/search"
	"github.com/tdro/tdro/model"
	"github.com/tdro/tdro/tokenize"
)

// benchCmd groups throughput benchmarks that print a table; packages add
// their own subcommands.
var benchCmd = &cobra.Command{
	Use:   "bench",
	Short: "Throughput benchmarks that print a table",
}

// peakGFLOPS is this machine's float32 peak: 2 cores x 2 FMA ports x 8 lanes
// x 2 flops x ~3 GHz.
const peakGFLOPS = 200.0

func init() {
	benchCmd.AddCommand(newBenchEvalCmd())
	rootCmd.AddCommand(benchCmd)
}

// newBenchEvalCmd builds tdro bench eval (fresh flags each call, for tests).
func newBenchEvalCmd() *cobra.Command {
	var (
		dataDir, preset      string
		texts, maxLen, batch int
		corpus, dim, queries int
		k                    int
		stream, skipEncode   bool
	)
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Encoding throughput (tokens/s) and exact-search throughput (GFLOP/s vs the 200 GFLOP/s peak)",
		Long: `eval measures the two costs of an evaluation:

encode  tokens/s of a randomly initialised --preset model on XQuAD-R English sentences,
        in eval.Encode's length-sorted order against the same texts in input order
        (batches padded to their longest text): the ratio is what sorting saves.
search  effective GFLOP/s of the score products (2 x queries x corpus x dim per search)
        of exact top-k search over a random --corpus x --dim float32 matrix, with the
        GoMLX product and the pure-Go kernel, one and two workers, against this machine's
        ~200 GFLOP/s peak. --stream generates corpus blocks on the fly instead of holding
        the corpus, to show memory stays bounded at 1M x 768.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', tabwriter.AlignRight)
			if load, err := os.ReadFile("/proc/loadavg"); err == nil { // shared machines: say how busy it was
				fmt.Fprintf(cmd.OutOrStdout(), "load average at start: %s (GOMAXPROCS %d)\n", strings.Join(strings.Fields(string(load))[:3], " "), runtime.GOMAXPROCS(0))
			}
			if !skipEncode {
				if err := benchEncode(w, dataDir, preset, texts, maxLen, batch); err != nil {
					return err
				}
			}
			return benchSearch(w, corpus, dim, queries, k, stream)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", "../shared/data", "bundled data directory")
	f.StringVar(&preset, "preset", "tiny-bert", "model preset to encode with ("+fmt.Sprint(model.PresetNames)+")")
	f.IntVar(&texts, "texts", 512, "sentences to encode")
	f.IntVar(&maxLen, "max-len", 128, "tokens per text")
	f.IntVar(&batch, "batch", 32, "texts per forward pass")
	f.BoolVar(&skipEncode, "skip-encode", false, "only run the search benchmark")
	f.IntVar(&corpus, "corpus", 100000, "corpus rows for the search benchmark")
	f.IntVar(&dim, "dim", 768, "vector dimension")
	f.IntVar(&queries, "queries", 256, "queries per search")
	f.IntVar(&k, "k", 100, "hits per query")
	f.BoolVar(&stream, "stream", false, "generate corpus blocks on the fly (memory-bounded; try --corpus 1000000)")
	return cmd
}

func benchEncode(w *tabwriter.Writer, dataDir, preset string, n, maxLen, batch int) error {
	tok, err := tokenize.Load(filepath.Join(dataDir, "tokenizers", "all-MiniLM-L6-v2", "tokenizer.json"))
	if err != nil {
		return err
	}
	cfg, err := model.Preset(preset, tok.VocabSize())
	if err != nil {
		return err
	}
	m, err := model.New(cfg, tok, 1)
	if err != nil {
		return err
	}
	col, err := collection.LoadXQuADR(filepath.Join(dataDir, "eval", "xquadr", "en.json"), filepath.Join(dataDir, "eval", "xquadr", "en.json"), "en", "en")
	if err != nil {
		return err
	}
	var sents []string
	for _, d := range col.Docs[:min(n, len(col.Docs))] {
		sents = append(sents, d.Text)
	}
	count := func(ts []string) int64 {
		s := int64(0)
		for _, ids := range tok.EncodeAll(ts, maxLen) {
			s += int64(len(ids))
		}
		return s
	}
	tokens := count(sents)
	// Warm up the compiled shapes of both orders so neither pays compilation.
	if _, err := eval.Encode(context.Background(), m, sents, eval.EncodeOptions{MaxLen: maxLen, BatchSize: batch}); err != nil {
		return err
	}
	inputOrder := func() error {
		for s := 0; s < len(sents); s += batch {
			if _, err := m.Encode(sents[s:min(s+batch, len(sents))], maxLen, batch); err != nil {
				return err
			}
		}
		return nil
	}
	if err := inputOrder(); err != nil {
		return err
	}
	start := time.Now()
	if _, err := eval.Encode(context.Background(), m, sents, eval.EncodeOptions{MaxLen: maxLen, BatchSize: batch}); err != nil {
		return err
	}
	sorted := time.Since(start)
	start = time.Now()
	if err := inputOrder(); err != nil {
		return err
	}
	unsorted := time.Since(start)
	fmt.Fprintf(w, "encode (%s, %d texts, %d tokens, batch %d)\ttime\ttokens/s\tvs input order\t\n", preset, len(sents), tokens, batch)
	fmt.Fprintf(w, "length-sorted (eval.Encode)\t%.2fs\t%.0f\t%.2fx\t\n", sorted.Seconds(), float64(tokens)/sorted.Seconds(), unsorted.Seconds()/sorted.Seconds())
	fmt.Fprintf(w, "input order\t%.2fs\t%.0f\t1.00x\t\n\n", unsorted.Seconds(), float64(tokens)/unsorted.Seconds())
	return w.Flush()
}

// randomRows is a corpus generated block by block (never held whole).
type randomRows struct{ n, d int }

func (r randomRows) Len() int { return r.n }
func (r randomRows) Dim() int { return r.d }
func (r randomRows) Rows(start, end int, buf []float32) ([]float32, error) {
	out := buf[:(end-start)*r.d]
	rng := rand.New(rand.NewPCG(uint64(start), 7))
	for i := range out {
		out[i] = float32(rng.Int32()>>8) / (1 << 23)
	}
	return out, nil
}

func benchSearch(w *tabwriter.Writer, n, d, nq, k int, stream bool) error {
	var corpus search.Vectors = randomRows{n, d}
	if !stream {
		m := &search.Matrix{N: n, D: d, Data: make([]float32, n*d)}
		if _, err := corpus.Rows(0, n, m.Data); err != nil {
			return err
		}
		corpus = m
	}
	qs, _ := randomRows{nq, d}.Rows(0, nq, make([]float32, nq*d))
	q := make([][]float32, nq)
	for i := range q {
		q[i] = qs[i*d : (i+1)*d]
	}
	products := []struct {
		name string
		p    search.Product
	}{{"go kernel", search.GoProduct}}
	if be, err := backend.Get(); err == nil {
		if p, err := search.NewGoMLXProduct(be); err == nil {
			products = append([]struct {
				name string
				p    search.Product
			}{{"gomlx", p}}, products...)
		}
	}
	flops := 2 * float64(nq) * float64(n) * float64(d)
	mode := "in memory"
	if stream {
		mode = "streamed"
	}
	fmt.Fprintf(w, "search (%d x %d corpus %s, %d queries, k=%d)\ttime\tGFLOP/s\t%% of peak\tmax heap\t\n", n, d, mode, nq, k)
	for _, pr := range products {
		for _, workers := range []int{1, 2} {
			ex := &search.Exact{Corpus: corpus, Product: pr.p, Workers: workers}
			// Warm up (compiles the GoMLX graphs for the block shapes).
			if _, err := (&search.Exact{Corpus: randomRows{8192, d}, Product: pr.p, Workers: workers}).Search(context.Background(), q, k); err != nil {
				return err
			}
			runtime.GC()
			stop := trackHeap()
			start := time.Now()
			if _, err := ex.Search(context.Background(), q, k); err != nil {
				return err
			}
			el := time.Since(start)
			heap := stop()
			g := flops / el.Seconds() / 1e9
			fmt.Fprintf(w, "%s, %d worker(s)\t%.2fs\t%.1f\t%.1f%%\t%d MiB\t\n", pr.name, workers, el.Seconds(), g, 100*g/peakGFLOPS, heap>>20)
		}
	}
	if stream {
		fmt.Fprintf(w, "(streamed: times include generating the corpus blocks)\t\t\t\t\t\n")
	}
	return w.Flush()
}

// trackHeap samples the heap in use until the returned func is called,
// which returns the maximum seen.
func trackHeap() func() uint64 {
	done := make(chan struct{})
	res := make(chan uint64)
	go func() {
		var ms runtime.MemStats
		maxHeap := uint64(0)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			maxHeap = max(maxHeap, ms.HeapInuse)
			select {
			case <-done:
				res <- maxHeap
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); return <-res }
}
