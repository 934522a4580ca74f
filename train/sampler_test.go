package train

import (
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tdro/tdro/data"
)

func syntheticDomains(sizes []int, weights []float64, negs int) []Domain {
	ds := make([]Domain, len(sizes))
	for d, n := range sizes {
		ds[d].Name = fmt.Sprintf("d%d", d)
		ds[d].Weight = weights[d]
		var recs data.RecordSlice
		for i := 0; i < n; i++ {
			r := data.Record{QueryID: fmt.Sprint(i), Query: fmt.Sprintf("q %d %d", d, i),
				Positives: []data.Passage{{Text: fmt.Sprintf("pos %d %d", d, i)}}}
			for j := 0; j < negs; j++ {
				r.Negatives = append(r.Negatives, data.Passage{Title: "t", Text: fmt.Sprintf("neg %d %d %d", d, i, j)})
			}
			recs = append(recs, r)
		}
		ds[d].Records = recs
	}
	return ds
}

// mustNext draws a batch or fails the test.
func mustNext(t testing.TB, s *Sampler) Batch {
	t.Helper()
	b, err := s.Next()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// chiSquare returns the statistic of observed counts against probabilities.
func chiSquare(counts []int, probs []float64) float64 {
	n := 0
	for _, c := range counts {
		n += c
	}
	x := 0.0
	for i, c := range counts {
		if probs[i] == 0 {
			continue
		}
		e := probs[i] * float64(n)
		x += (float64(c) - e) * (float64(c) - e) / e
	}
	return x
}

func TestSamplerDomainFrequencies(t *testing.T) {
	weights := []float64{5, 1, 0, 3, 1} // one zero-weight domain must never be drawn
	ds := syntheticDomains([]int{40, 40, 40, 40, 40}, weights, 3)
	probs := []float64{0.5, 0.1, 0, 0.3, 0.1}
	for _, mixed := range []bool{false, true} {
		s, err := NewSampler(ds, SamplerConfig{BatchSize: 4, Negatives: 2, Mixed: mixed, Weights: weights, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		counts := make([]int, len(ds))
		for i := 0; i < 5000; i++ {
			b := mustNext(t, s)
			for _, ex := range b.Examples {
				if !mixed && ex.Domain != b.Domain {
					t.Fatalf("homogeneous batch of domain %d holds an example of %d", b.Domain, ex.Domain)
				}
				counts[ex.Domain]++
			}
		}
		if counts[2] != 0 {
			t.Fatalf("zero-weight domain drawn %d times", counts[2])
		}
		// 3 degrees of freedom; chi2 > 16.3 has p < 0.001. In homogeneous mode
		// the unit of sampling is the batch, so count batches.
		if !mixed {
			for i := range counts {
				counts[i] /= 4
			}
		}
		if x := chiSquare(counts, probs); x > 16.3 {
			t.Errorf("mixed=%v: counts %v vs probabilities %v: chi2 = %.1f", mixed, counts, probs, x)
		}
	}
}

func TestSamplerMixedDefaultsToUniform(t *testing.T) {
	ds := syntheticDomains([]int{10, 10, 10}, []float64{10, 1, 1}, 1)
	s, err := NewSampler(ds, SamplerConfig{BatchSize: 8, Negatives: 1, Mixed: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range s.Probabilities() {
		if math.Abs(p-1.0/3) > 1e-12 {
			t.Fatalf("mixed mode probabilities %v, want uniform", s.Probabilities())
		}
	}
	counts := make([]int, 3)
	for i := 0; i < 3000; i++ {
		for _, ex := range mustNext(t, s).Examples {
			counts[ex.Domain]++
		}
	}
	if x := chiSquare(counts, s.Probabilities()); x > 13.8 { // 2 dof, p < 0.001
		t.Errorf("counts %v: chi2 %.1f", counts, x)
	}
}

func TestSamplerExamples(t *testing.T) {
	ds := syntheticDomains([]int{6, 6}, []float64{1, 1}, 1)
	ds[0].Instructions = []string{"find the answer"}
	ds[1].Instructions = []string{"find a duplicate"}
	ds[1].Symmetric = true
	s, err := NewSampler(ds, SamplerConfig{BatchSize: 6, Negatives: 3, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]map[string]int{0: {}, 1: {}}
	for i := 0; i < 20; i++ {
		b := mustNext(t, s)
		for _, ex := range b.Examples {
			if len(ex.Passages) != 4 {
				t.Fatalf("want positive + 3 negatives, got %d passages", len(ex.Passages))
			}
			instr := ds[ex.Domain].Instructions[0]
			if !strings.HasPrefix(ex.Query, "Instruct: "+instr+"\nQuery: q ") {
				t.Fatalf("query %q lacks its instruction", ex.Query)
			}
			id := strings.TrimPrefix(ex.Query, "Instruct: "+instr+"\nQuery: q ")
			for j, p := range ex.Passages {
				prompted := strings.HasPrefix(p, "Instruct: ")
				if prompted != ds[ex.Domain].Symmetric {
					t.Fatalf("domain %d passage %q: prompted=%v", ex.Domain, p, prompted)
				}
				want := "pos " + id
				if j > 0 {
					want = "t neg " + id + " 0" // one negative only: drawn with replacement
				}
				if !strings.HasSuffix(p, want) {
					t.Fatalf("passage %d of query %q is %q, want ...%q", j, ex.Query, p, want)
				}
			}
		}
		// One epoch per domain covers every record once.
		for _, ex := range b.Examples {
			seen[b.Domain][ex.Query]++
		}
	}
	for d, m := range seen {
		if len(m) != 6 && len(m) != 0 {
			t.Errorf("domain %d: %d distinct queries, want all 6", d, len(m))
		}
		first := -1
		for q, n := range m { // batch size = domain size: every batch is one epoch
			if first < 0 {
				first = n
			}
			if n != first {
				t.Errorf("domain %d query %q seen %d times, another %d", d, q, n, first)
			}
		}
	}
}

func TestSamplerEpochCoversEveryRecordOnce(t *testing.T) {
	ds := syntheticDomains([]int{12}, []float64{1}, 5)
	s, err := NewSampler(ds, SamplerConfig{BatchSize: 4, Negatives: 2, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	for epoch := 0; epoch < 3; epoch++ {
		seen := map[string]bool{}
		for i := 0; i < 3; i++ {
			for _, ex := range mustNext(t, s).Examples {
				if seen[ex.Query] {
					t.Fatalf("epoch %d repeats %q", epoch, ex.Query)
				}
				seen[ex.Query] = true
			}
		}
		if len(seen) != 12 {
			t.Fatalf("epoch %d saw %d records", epoch, len(seen))
		}
	}
}

func TestSamplerStateRestoreContinuesExactly(t *testing.T) {
	ds := syntheticDomains([]int{7, 9, 11}, []float64{1, 2, 3}, 4)
	cfg := SamplerConfig{BatchSize: 5, Negatives: 3, Seed: 42}
	a, _ := NewSampler(ds, cfg)
	for i := 0; i < 13; i++ {
		mustNext(t, a)
	}
	st, err := a.State()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSampler(ds, cfg)
	if err := b.Restore(st); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if x, y := mustNext(t, a), mustNext(t, b); !reflect.DeepEqual(x, y) {
			t.Fatalf("batch %d after restore differs:\n%v\n%v", i, x, y)
		}
	}
	// Same seed, same batches; another seed, others.
	c, _ := NewSampler(ds, cfg)
	d, _ := NewSampler(ds, cfg)
	cfg.Seed++
	e, _ := NewSampler(ds, cfg)
	x, y, z := mustNext(t, c), mustNext(t, d), mustNext(t, e)
	if !reflect.DeepEqual(x, y) || reflect.DeepEqual(x, z) {
		t.Fatal("seeding is not reproducible")
	}
}

func TestSamplerErrors(t *testing.T) {
	ok := syntheticDomains([]int{4, 4}, []float64{1, 1}, 1)
	tests := []struct {
		name    string
		domains []Domain
		cfg     SamplerConfig
		want    string
	}{
		{"no domains", nil, SamplerConfig{BatchSize: 2}, "no domains"},
		{"batch size", ok, SamplerConfig{BatchSize: 0}, "batch size"},
		{"negative weight", ok, SamplerConfig{BatchSize: 2, Weights: []float64{1, -1}}, `"d1": weight`},
		{"zero sum", ok, SamplerConfig{BatchSize: 2, Weights: []float64{0, 0}}, "sum to 0"},
		{"weights length", ok, SamplerConfig{BatchSize: 2, Weights: []float64{1}}, "1 weights for 2 domains"},
		{"small domain", ok, SamplerConfig{BatchSize: 5}, `"d0" has 4 records, fewer than the batch size 5`},
		{"empty domain", syntheticDomains([]int{0, 4}, []float64{1, 1}, 0), SamplerConfig{BatchSize: 2}, `"d0" has no records`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSampler(tc.domains, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestExampleWeightsAndDomainLosses: the loss-reweight transfer's loss_scale
// multiplies each example's weight (0 means 1), and per-domain logging
// averages by domain.
func TestExampleWeightsAndDomainLosses(t *testing.T) {
	ds := syntheticDomains([]int{2, 2}, []float64{1, 1}, 0)
	ds[1].LossScale = 3
	b := &Batch{Domain: -1, Examples: []Example{{Domain: 0}, {Domain: 1}, {Domain: 1}, {Domain: 0}}}
	w := ExampleWeights(ds, b)
	want := []float32{0.25, 0.75, 0.75, 0.25}
	if !reflect.DeepEqual(w, want) {
		t.Fatalf("weights %v, want %v", w, want)
	}
	got := DomainLosses(ds, b, []float32{1, 2, 4, 3})
	if !reflect.DeepEqual(got, map[string]float64{"d0": 2, "d1": 3}) {
		t.Fatalf("domain losses %v", got)
	}
}

// TestSamplerReadsIndexedFiles: a domain indexed on disk gives exactly the
// batches of the same records in memory, and a record without a positive
// (only possible in memory) is an error when drawn.
func TestSamplerReadsIndexedFiles(t *testing.T) {
	mem := syntheticDomains([]int{9, 5}, []float64{2, 1}, 2)
	disk := make([]Domain, len(mem))
	for d := range mem {
		recs := mem[d].Records.(data.RecordSlice)
		path := filepath.Join(t.TempDir(), mem[d].Name+".jsonl")
		if err := data.WriteRecords(path, recs); err != nil {
			t.Fatal(err)
		}
		idx, err := data.IndexRecords(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := idx.(*data.RecordFile); !ok {
			t.Fatalf("%s held in memory", path)
		}
		disk[d] = Domain{Domain: mem[d].Domain, Records: idx}
	}
	for _, mixed := range []bool{false, true} {
		cfg := SamplerConfig{BatchSize: 3, Negatives: 2, Mixed: mixed, Seed: 5}
		a, err := NewSampler(mem, cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewSampler(disk, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20; i++ { // several epochs of both domains
			if x, y := mustNext(t, a), mustNext(t, b); !reflect.DeepEqual(x, y) {
				t.Fatalf("mixed=%v batch %d: memory %+v, disk %+v", mixed, i, x, y)
			}
		}
	}

	bad := syntheticDomains([]int{3}, []float64{1}, 0)
	recs := bad[0].Records.(data.RecordSlice)
	recs[1].Positives = nil
	s, err := NewSampler(bad, SamplerConfig{BatchSize: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(); err == nil || !strings.Contains(err.Error(), `"d0" record 1 (query_id "1") has no positive passage`) {
		t.Errorf("record without positive: got %v", err)
	}
}

// TestSamplerHugeWeights: weights near the float64 maximum normalise
// instead of overflowing the sum (every batch would then come from the
// first domain).
func TestSamplerHugeWeights(t *testing.T) {
	ds := syntheticDomains([]int{10, 10}, []float64{1e308, 1e308}, 1)
	s, err := NewSampler(ds, SamplerConfig{BatchSize: 4, Negatives: 1, Weights: []float64{1e308, 1e308}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Probabilities(); math.Abs(p[0]-0.5) > 1e-12 || math.Abs(p[1]-0.5) > 1e-12 {
		t.Fatalf("probabilities %v, want [0.5 0.5]", p)
	}
}
