package study

import (
	"math"
	"strings"
	"testing"

	"github.com/tdro/tdro/eval"
	"github.com/tdro/tdro/eval/metrics"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol || math.IsNaN(got) {
		t.Errorf("%s = %.7g, want %.7g (±%g)", what, got, want, tol)
	}
}

// Hand-computed values; t quantiles from printed tables
// (t_{.975,4} = 2.7764451, t_{.975,9} = 2.2621572, t_{.80,9} = 0.8834039).
func TestMeanCI(t *testing.T) {
	iv, err := MeanCI([]float64{0.1, 0.2, 0.3, 0.4, 0.5}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	// mean 0.3, sd sqrt(0.025) = 0.1581139, se 0.0707107, half 2.7764451*se = 0.1963243
	near(t, "mean", iv.Mean, 0.3, 1e-12)
	near(t, "sd", iv.SD, 0.1581139, 1e-6)
	near(t, "lo", iv.Lo, 0.1036757, 1e-6)
	near(t, "hi", iv.Hi, 0.4963243, 1e-6)
	one, _ := MeanCI([]float64{0.7}, 0.95)
	if one.Lo != 0.7 || one.Hi != 0.7 || one.SD != 0 {
		t.Errorf("one observation: %+v", one)
	}
	if _, err := MeanCI(nil, 0.95); err == nil {
		t.Error("no observations accepted")
	}
}

// tTail is 2*P(T > t) for df = 4 by Simpson integration of the density,
// independent of the incomplete beta function PairedT uses.
func tTail(t float64, df int) float64 {
	nu := float64(df)
	c := math.Gamma((nu+1)/2) / (math.Sqrt(nu*math.Pi) * math.Gamma(nu/2))
	f := func(x float64) float64 { return c * math.Pow(1+x*x/nu, -(nu+1)/2) }
	// P(0 < T < t), then the tail is 1/2 minus it.
	n := 20000
	h := t / float64(n)
	s := f(0) + f(t)
	for i := 1; i < n; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		s += w * f(float64(i)*h)
	}
	return 2 * (0.5 - s*h/3)
}

func TestPairedT(t *testing.T) {
	a := []float64{0.10, 0.20, 0.30, 0.40, 0.50}
	b := []float64{0.11, 0.22, 0.33, 0.44, 0.55} // differences 0.01 .. 0.05
	p, err := PairedT(a, b, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	// mean 0.03, sd 0.0158114, se 0.00707107, t = 4.2426407
	near(t, "diff", p.Diff.Mean, 0.03, 1e-12)
	near(t, "t", p.T, 4.2426407, 1e-6)
	near(t, "p", p.P, tTail(4.2426407, 4), 1e-7)
	near(t, "lo", p.Diff.Lo, 0.03-2.7764451*0.00707107, 1e-6)
	if p.P < 0.01 || p.P > 0.02 { // the printed table: t_{.995,4} = 4.604, t_{.99,4} = 3.747
		t.Errorf("p = %v, outside the table's (0.01, 0.02)", p.P)
	}
	same, _ := PairedT(a, a, 0.95)
	if same.P != 1 || same.Diff.Mean != 0 {
		t.Errorf("identical series: %+v", same)
	}
	if _, err := PairedT(a, b[:3], 0.95); err == nil {
		t.Error("unequal lengths accepted")
	}
}

func TestHolm(t *testing.T) {
	// sorted 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 -> max(0.06, 0.04)
	got := Holm([]float64{0.01, 0.04, 0.03, 0.005})
	for i, want := range []float64{0.03, 0.06, 0.06, 0.02} {
		near(t, "holm", got[i], want, 1e-12)
	}
	if got := Holm([]float64{0.6, 0.9}); got[0] != 1 || got[1] != 1 {
		t.Errorf("Holm caps at 1: %v", got)
	}
}

func TestSpearman(t *testing.T) {
	// ranks of y: 1 2 3.5 5 3.5; rho = 8/sqrt(10*9.5)
	rho, err := Spearman([]float64{1, 2, 3, 4, 5}, []float64{5, 6, 7, 8, 7})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "rho", rho, 8/math.Sqrt(95), 1e-12)
	if r, _ := Spearman([]float64{1, 2, 3}, []float64{30, 20, 10}); r != -1 {
		t.Errorf("reversed order: %v, want -1", r)
	}
}

func TestMinimumDetectableEffect(t *testing.T) {
	// (2.2621572 + 0.8834039) * 0.01 / sqrt(10)
	near(t, "mde", MinimumDetectableEffect(0.01, 10, 0.05, 0.8), 0.0099470, 1e-6)
	if !math.IsNaN(MinimumDetectableEffect(0.01, 1, 0.05, 0.8)) {
		t.Error("one pair has an effect size")
	}
}

// TestAnalyzeVerdicts checks the plain-words verdicts on planted
// differences: a clear gain, no difference, an identical run, one seed.
func TestAnalyzeVerdicts(t *testing.T) {
	o := DefaultOptions()
	mk := func(base, better, noise, same []float64) []Seed {
		var seeds []Seed
		for i := range base {
			seeds = append(seeds, Seed{Seed: uint64(i + 1), Results: resultsOf(t, map[string]float64{
				"uniform": base[i], "better": better[i], "noise": noise[i], "same": base[i]})})
		}
		return seeds
	}
	r, err := Analyze(mk([]float64{0.30, 0.32, 0.31, 0.29}, []float64{0.40, 0.43, 0.41, 0.40},
		[]float64{0.31, 0.30, 0.32, 0.28}, nil), o)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"better": "better than uniform", "noise": "no evidence of a difference", "same": "identical to uniform"}
	for _, row := range r.Runs {
		if !strings.Contains(row.Verdict, want[row.Run]) {
			t.Errorf("%s: %q, want %q", row.Run, row.Verdict, want[row.Run])
		}
	}
	one, err := Analyze(mk([]float64{0.3}, []float64{0.4}, []float64{0.3}, nil), o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(one.Runs[0].Verdict, "one seed") {
		t.Errorf("one seed: %q", one.Runs[0].Verdict)
	}
}

// resultsOf makes one seed's results: one set, two queries whose nDCG@10
// average to each run's value.
func resultsOf(t *testing.T, runs map[string]float64) *eval.Results {
	t.Helper()
	m := metrics.Measure{Kind: metrics.NDCG, K: 10}
	res := &eval.Results{}
	for _, name := range []string{"uniform", "better", "noise", "same"} {
		v := runs[name]
		res.Runs = append(res.Runs, &eval.RunResult{Name: name, Datasets: []*eval.DatasetResult{{Dataset: "set", Run: name,
			Scores: &metrics.Scores{Measures: []metrics.Measure{m}, Queries: []string{"q1", "q2"},
				PerQuery: map[string][]float64{"q1": {v - 0.01}, "q2": {v + 0.01}}, Mean: []float64{v}}}}})
	}
	return res
}
