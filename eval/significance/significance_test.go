package significance

import (
	"math"
	"testing"
)

// Student t CDFs with closed forms, for hand-checkable p-values:
// nu=2: F(t) = 1/2 + t / (2 sqrt(2+t^2)).
// nu=4: F(t) = 1/2 + (3/4) x (1 - x^2/3) with x = t/sqrt(4+t^2).
func TestTTestHandComputed(t *testing.T) {
	tests := []struct {
		name  string
		a, b  []float64
		wantT float64
		wantP float64
	}{
		{
			// d = 0.1, 0.2, 0.6: mean 0.3, sd sqrt(0.07), t = 0.3/(sqrt(0.07)/sqrt(3)) = 1.963961
			name: "n=3", a: []float64{0.5, 0.7, 0.9}, b: []float64{0.4, 0.5, 0.3},
			wantT: 0.3 / (math.Sqrt(0.07) / math.Sqrt(3)),
		},
		{
			// d = 0.1, 0, 0.2, 0.2, 0.1: mean 0.12, var 0.028/4 = 0.007, t = 0.12/sqrt(0.007/5) = 3.207135
			name: "n=5", a: []float64{0.5, 0.6, 0.7, 0.8, 0.9}, b: []float64{0.4, 0.6, 0.5, 0.6, 0.8},
			wantT: 0.12 / math.Sqrt(0.007/5),
		},
	}
	// p from the closed forms above.
	tt := tests[0].wantT
	tests[0].wantP = 2 * (0.5 - tt/(2*math.Sqrt(2+tt*tt)))
	tt = tests[1].wantT
	x := tt / math.Sqrt(4+tt*tt)
	tests[1].wantP = 2 * (0.5 - 0.75*x*(1-x*x/3))
	for _, tc := range tests {
		gotT, gotP, err := TTest(tc.a, tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(gotT-tc.wantT) > 1e-9 || math.Abs(gotP-tc.wantP) > 1e-9 {
			t.Errorf("%s: t=%.6f p=%.6f, want t=%.6f p=%.6f", tc.name, gotT, gotP, tc.wantT, tc.wantP)
		}
	}
	// Spot values: t=1.963961 on 2 df gives p=0.18857; t=3.207135 on 4 df gives p=0.03267.
	if math.Abs(tests[0].wantP-0.18857) > 1e-4 || math.Abs(tests[1].wantP-0.03267) > 1e-4 {
		t.Errorf("closed forms: %v %v", tests[0].wantP, tests[1].wantP)
	}
}

func TestTTestDegenerate(t *testing.T) {
	if _, p, _ := TTest([]float64{1, 2}, []float64{1, 2}); p != 1 {
		t.Errorf("identical runs p=%v", p)
	}
	if tv, p, _ := TTest([]float64{2, 3}, []float64{1, 2}); p != 0 || !math.IsInf(tv, 1) {
		t.Errorf("constant shift t=%v p=%v", tv, p)
	}
	if _, _, err := TTest([]float64{1}, []float64{1, 2}); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, _, err := TTest([]float64{math.NaN()}, []float64{1}); err == nil {
		t.Error("NaN accepted")
	}
}

func TestRandomizationExact(t *testing.T) {
	tests := []struct {
		d    []float64
		want float64
	}{
		{[]float64{1, 2, 3}, 2.0 / 8},        // |sum| >= 6 only for +++ and ---
		{[]float64{3, -1, 2}, 4.0 / 8},       // sums 6,4,2,0,0,-2,-4,-6: |s|>=4 four times
		{[]float64{1, 1, 1, 1, 1}, 2.0 / 32}, // all plus or all minus
		{[]float64{0.1, 0, 0.2, 0.2, 0.1}, 2.0 / 16},
		{[]float64{0, 0}, 1},
	}
	for _, tc := range tests {
		zero := make([]float64, len(tc.d))
		p, exact, err := Randomization{}.Test(tc.d, zero)
		if err != nil || !exact || math.Abs(p-tc.want) > 1e-12 {
			t.Errorf("%v: p=%v exact=%v err=%v, want %v", tc.d, p, exact, err, tc.want)
		}
	}
}

func TestRandomizationMonteCarloAgreesWithExact(t *testing.T) {
	a := []float64{0.62, 0.41, 0.77, 0.30, 0.55, 0.91, 0.12, 0.48, 0.66, 0.35, 0.81, 0.27, 0.59, 0.44, 0.70, 0.52}
	b := []float64{0.55, 0.45, 0.70, 0.22, 0.56, 0.80, 0.10, 0.40, 0.69, 0.31, 0.71, 0.29, 0.50, 0.47, 0.60, 0.49}
	exactP, exact, _ := Randomization{}.Test(a, b)
	mcP, mcExact, _ := Randomization{ExactMax: 1, Trials: 200000, Seed: 7}.Test(a, b)
	if !exact || mcExact {
		t.Fatalf("exact=%v mc exact=%v", exact, mcExact)
	}
	if math.Abs(exactP-mcP) > 0.005 {
		t.Errorf("Monte-Carlo p=%v, exact %v", mcP, exactP)
	}
	again, _, _ := Randomization{ExactMax: 1, Trials: 200000, Seed: 7}.Test(a, b)
	if again != mcP {
		t.Errorf("same seed gave %v then %v", mcP, again)
	}
}

func TestMarks(t *testing.T) {
	for p, want := range map[float64]string{0.001: "‡", 0.01: "‡", 0.03: "†", 0.05: "†", 0.2: ""} {
		if Mark(p) != want {
			t.Errorf("Mark(%v)=%q want %q", p, Mark(p), want)
		}
	}
}
