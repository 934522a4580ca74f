package dro

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol {
			t.Fatalf("%s[%d]: got %.12g, want %.12g (all: %v)", what, i, got[i], want[i], got)
		}
	}
}

// The example by hand: proxy [2 1 3 .5], ref [1 2 1 .5], domains [0 0 1 2],
// domain 3 absent.
func TestScoresByHand(t *testing.T) {
	proxy := []float64{2, 1, 3, 0.5}
	ref := []float64{1, 2, 1, 0.5}
	dom := []int{0, 0, 1, 2}
	for _, tc := range []struct {
		m    Measure
		want []float64
	}{
		// mean proxy / mean ref: 1.5/1.5, 3/1, .5/.5
		{Relative, []float64{1, 3, 1, 0}},
		// sum|ref| = 4.5: r~ = [2/9 4/9 2/9 1/9]; m = [9 2.25 13.5 4.5]
		{RelativeOfficial, []float64{5.625, 13.5, 4.5, 0}},
		// max(p-r,0): [1 0 | 2 | 0]
		{Excess, []float64{0.5, 2, 0, 0}},
		{Raw, []float64{1.5, 3, 0.5, 0}},
	} {
		got, present, err := tc.m.Scores(proxy, ref, dom, 4)
		if err != nil {
			t.Fatal(err)
		}
		near(t, string(tc.m), got, tc.want, 1e-12)
		if !present[0] || !present[1] || !present[2] || present[3] {
			t.Fatalf("%s: present = %v", tc.m, present)
		}
	}
}

func TestRelativeOfficialRules(t *testing.T) {
	// sum|ref| = 1.00001 + 0.5 (the negative reference counts by magnitude).
	// r~_0 = 1e-5/1.50001 < 1e-4 -> 1, so m_0 = 0.3;
	// r~_1 = 1/1.50001, m_1 = 0.2*1.50001;
	// r~_2 = -0.5/1.50001 < 1e-4 -> 1, and proxy -0.5 -> max(-0.5, 0) = 0.
	proxy := []float64{0.3, 0.2, -0.5}
	ref := []float64{1e-5, 1, -0.5}
	got, _, err := RelativeOfficial.Scores(proxy, ref, []int{0, 1, 2}, 3)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "official", got, []float64{0.3, 0.2 * 1.50001, 0}, 1e-12)
}

func TestScoresErrors(t *testing.T) {
	for _, tc := range []struct {
		m     Measure
		proxy []float64
		ref   []float64
		dom   []int
		want  string
	}{
		{"ratio", []float64{1}, []float64{1}, []int{0}, "unknown measurement"},
		{Relative, []float64{1, 2}, []float64{1}, []int{0, 0}, "reference losses"},
		{Excess, []float64{1}, []float64{1}, []int{3}, "domain 3"},
		{Relative, []float64{1}, []float64{math.NaN()}, []int{0}, "non-finite"},
		{Raw, []float64{math.Inf(1)}, nil, []int{0}, "non-finite"},
	} {
		_, _, err := tc.m.Scores(tc.proxy, tc.ref, tc.dom, 2)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.m, err, tc.want)
		}
	}
}

func TestUpdateClipsToUnitNorm(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scores []float64
		want   []float64 // softmax(log(1/3) + eta*M*min(1, 1/(|M|+1e-6))), torch's clip_grad_norm_
	}{
		// |M| = 5 -> clipped: increments [.012 .016 0]/(1+2e-7)
		{"clipped", []float64{3, 4, 0}, []float64{0.334215693388348, 0.3355552331875396, 0.33022907342411245}},
		// |M| = .5 -> unclipped: increments [.006 .008 0]
		{"unclipped", []float64{0.3, 0.4, 0}, []float64{0.33377614687241125, 0.33444436716370723, 0.33177948596388146}},
	} {
		l, err := NewLearner(3, UpdateConfig{Measure: Raw})
		if err != nil {
			t.Fatal(err)
		}
		// Raw scores of one example per domain are the losses themselves.
		if _, err := l.Observe(tc.scores, nil, []int{0, 1, 2}); err != nil {
			t.Fatal(err)
		}
		near(t, tc.name+" used", l.Update(), tc.scores, 0)
		near(t, tc.name, l.Alpha, tc.want, 1e-12)
		for g := range l.Alpha {
			if math.Abs(math.Exp(l.LogAlpha[g])-l.Alpha[g]) > 1e-15 {
				t.Fatalf("log alpha %v does not match alpha %v", l.LogAlpha, l.Alpha)
			}
		}
	}
}

func TestUpdateSmoothingMeanEMA(t *testing.T) {
	step1 := []float64{0.334215693388348, 0.3355552331875396, 0.33022907342411245}
	l, _ := NewLearner(3, UpdateConfig{Measure: Raw, Smoothing: 0.3})
	l.Observe([]float64{3, 4, 0}, nil, []int{0, 1, 2})
	l.Update()
	smoothed := []float64{0.7*step1[0] + 0.1, 0.7*step1[1] + 0.1, 0.7*step1[2] + 0.1}
	near(t, "smoothed", l.Alpha, smoothed, 1e-12)

	l, _ = NewLearner(3, UpdateConfig{Measure: Raw})
	l.Observe([]float64{3, 4, 0}, nil, []int{0, 1, 2})
	l.Update()
	l.Observe([]float64{0, 0, 10}, nil, []int{0, 1, 2}) // clipped to +.02 on domain 2
	l.Update()
	step2 := []float64{0.33200089248496567, 0.3333315553402673, 0.33466755217476707}
	near(t, "step 2", l.Alpha, step2, 1e-12)
	var mean, ema []float64
	for g := range 3 {
		mean = append(mean, (step1[g]+step2[g])/2)
		ema = append(ema, 0.9*(0.9/3+0.1*step1[g])+0.1*step2[g])
	}
	near(t, "mean", l.Mean, mean, 1e-12)
	near(t, "ema", l.EMA, ema, 1e-12)
}

func TestAbsentPolicyAndAccumulation(t *testing.T) {
	for _, tc := range []struct {
		absent Absent
		want   []float64 // pending (summed) after two micro-batches; Update uses their mean
	}{
		// micro-batch 1 scores [1 2 -]; micro-batch 2 scores [3 - -]
		{AbsentZero, []float64{4, 2, 0}},
		{AbsentKeep, []float64{4, 4, 0}}, // domain 1 keeps its 2; domain 2 never seen
	} {
		l, _ := NewLearner(3, UpdateConfig{Measure: Raw, Absent: tc.absent})
		l.Observe([]float64{1, 2}, nil, []int{0, 1})
		got, _ := l.Observe([]float64{3}, nil, []int{0})
		if tc.absent == AbsentKeep && got[1] != 2 {
			t.Fatalf("keep: micro-batch scores %v", got)
		}
		near(t, string(tc.absent), l.Pending, tc.want, 0)
		if l.Observed != 2 {
			t.Fatalf("observed %d", l.Observed)
		}
		near(t, "used", l.Update(), []float64{tc.want[0] / 2, tc.want[1] / 2, tc.want[2] / 2}, 0)
		near(t, "pending reset", l.Pending, []float64{0, 0, 0}, 0)
	}
}

func TestExampleWeights(t *testing.T) {
	l, _ := NewLearner(2, UpdateConfig{})
	l.Alpha = []float64{0.2, 0.8}
	// raw alpha [.2 .8 .8], sum 1.8
	near(t, "weights", l.ExampleWeights([]int{0, 1, 1}), []float64{0.2 / 1.8, 0.8 / 1.8, 0.8 / 1.8}, 1e-15)
}

func TestStepAccumulatesMicroBatches(t *testing.T) {
	// Raw measure, 4 examples in 2 micro-batches: [0 1] with losses [1 2]
	// and [0 0] with losses [3 5]. Mean of the micro-batch scores
	// ([1 2] and [4 0]) is [2.5 1]: |M| = sqrt(7.25) -> log alpha +=
	// .02 * [2.5 1] / (sqrt(7.25) + 1e-6) (the official trainer).
	l, _ := NewLearner(2, UpdateConfig{Measure: Raw})
	w, scores, err := l.Step([]float64{1, 2, 3, 5}, nil, []int{0, 1, 0, 0}, 2)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "scores", scores, []float64{2.5, 1}, 1e-15)
	d := 0.02 * (2.5 - 1) / (math.Sqrt(7.25) + 1e-6)
	a0 := 1 / (1 + math.Exp(-d))
	near(t, "alpha", l.Alpha, []float64{a0, 1 - a0}, 1e-12)
	// The first micro-batch is weighted with the alpha from before the
	// update (uniform: 1/2 each, halved), the last with the new alpha
	// (one domain only: 1/2 each, halved).
	near(t, "weights", w, []float64{0.25, 0.25, 0.25, 0.25}, 1e-12)

	// One micro-batch of the same examples: mean loss of domain 0 is 3.
	l, _ = NewLearner(2, UpdateConfig{Measure: Raw})
	_, scores, _ = l.Step([]float64{1, 2, 3, 5}, nil, []int{0, 1, 0, 0}, 1)
	near(t, "one micro-batch", scores, []float64{3, 2}, 1e-15)

	if _, _, err := l.Step([]float64{1, 2, 3}, nil, []int{0, 1, 0}, 2); err == nil || !strings.Contains(err.Error(), "equal micro-batches") {
		t.Fatalf("3 examples in 2 micro-batches: %v", err)
	}
}

func TestLearnerConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		k    int
		cfg  UpdateConfig
		want string
	}{
		{0, UpdateConfig{}, "no domains"},
		{2, UpdateConfig{Eta: -1}, "eta"},
		{2, UpdateConfig{Smoothing: 1}, "smoothing"},
		{2, UpdateConfig{Absent: "skip"}, "absent"},
		{2, UpdateConfig{Measure: "dro"}, "measure"},
		{2, UpdateConfig{EMA: 2}, "ema"},
	} {
		_, err := NewLearner(tc.k, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// TestAlphaFloor drives a weight below what float64 holds (a huge eta):
// it stays at the floor, log alpha stays finite, the state serialises and
// a micro-batch of floored domains still gets finite weights.
func TestAlphaFloor(t *testing.T) {
	l, err := NewLearner(2, UpdateConfig{Measure: Raw, Eta: 1e4})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Step([]float64{10, 0}, nil, []int{0, 1}, 1); err != nil {
		t.Fatal(err)
	}
	if l.Alpha[1] != alphaFloor || math.IsInf(l.LogAlpha[1], 0) {
		t.Fatalf("alpha %v, log alpha %v: want domain 1 at the floor %g with a finite log", l.Alpha, l.LogAlpha, alphaFloor)
	}
	if _, err := json.Marshal(l); err != nil {
		t.Fatalf("state does not serialise: %v", err)
	}
	w := l.ExampleWeights([]int{1, 1})
	near(t, "floored micro-batch weights", w, []float64{0.5, 0.5}, 0)
	// It can recover: a loss on domain 1 only moves it back up.
	if _, _, err := l.Step([]float64{0, 10}, nil, []int{0, 1}, 1); err != nil {
		t.Fatal(err)
	}
	if !(l.Alpha[1] > alphaFloor) {
		t.Fatalf("floored domain did not recover: %v", l.Alpha)
	}
}

func TestNewLearnerAt(t *testing.T) {
	l, err := NewLearnerAt([]float64{1, 3}, UpdateConfig{Init: InitMixture})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "alpha", l.Alpha, []float64{0.25, 0.75}, 0)
	near(t, "mean", l.Mean, []float64{0.25, 0.75}, 0)
	if l, err := NewLearnerAt([]float64{1e308, 1e308}, UpdateConfig{}); err != nil || l.Alpha[0] != 0.5 {
		t.Errorf("weights of 1e308: %v", err)
	}
	for _, bad := range [][]float64{{0, 0}, {-1, 2}, {math.NaN(), 1}, {math.Inf(1), 1}} {
		if _, err := NewLearnerAt(bad, UpdateConfig{}); err == nil {
			t.Errorf("start %v accepted", bad)
		}
	}
}
