package regmix

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSampleIsCentredOnThePrior(t *testing.T) {
	prior := []float64{0.5, 0.25, 0.125, 0.125}
	ws := Sample(rand.New(rand.NewPCG(1, 2)), 20000, prior, 4)
	mean := make([]float64, len(prior))
	for _, w := range ws {
		sum := 0.0
		for j, v := range w {
			if v < 0 {
				t.Fatalf("negative weight %v", w)
			}
			sum += v
			mean[j] += v / float64(len(ws))
		}
		if math.Abs(sum-1) > 1e-12 {
			t.Fatalf("weights sum to %v", sum)
		}
	}
	for j := range prior {
		if math.Abs(mean[j]-prior[j]) > 0.01 {
			t.Errorf("domain %d: mean %v, prior %v", j, mean[j], prior[j])
		}
	}
}

// TestLinearByHand: three mixtures of two domains scoring 1, 2 and 3 lie
// on score = 1 + 2·w₁, so (0.25, 0.75) predicts 2.5.
func TestLinearByHand(t *testing.T) {
	l := &Linear{Ridge: 1e-9}
	if err := l.Fit([]Observation{{[]float64{1, 0}, 1}, {[]float64{0.5, 0.5}, 2}, {[]float64{0, 1}, 3}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ w, want float64 }{{0.75, 2.5}, {0, 1}, {1, 3}} {
		if got := l.Predict([]float64{1 - c.w, c.w}); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("Predict(w₁=%v) = %v, want %v", c.w, got, c.want)
		}
	}
}

// planted is a synthetic problem with a known best mixture: the score
// falls with the squared distance from best, plus noise.
func planted(rng *rand.Rand, n int, best []float64, noise float64) []Observation {
	prior := []float64{0.25, 0.25, 0.25, 0.25}
	var obs []Observation
	for _, w := range Sample(rng, n, prior, 1) {
		obs = append(obs, Observation{Weights: w, Score: truth(w, best) + noise*rng.NormFloat64()})
	}
	return obs
}

func truth(w, best []float64) float64 {
	d := 0.0
	for j := range w {
		d += (w[j] - best[j]) * (w[j] - best[j])
	}
	return -d
}

func l1(a, b []float64) float64 {
	d := 0.0
	for j := range a {
		d += math.Abs(a[j] - b[j])
	}
	return d
}

// TestBestFindsThePlantedMixture: from 64 noisy proxy runs, the trees'
// argmax lands within L1 0.3 of the planted best mixture (uniform is 0.7
// away) and orders the domains as it does; the linear fit, whose argmax is
// a corner, leans on the best domain.
func TestBestFindsThePlantedMixture(t *testing.T) {
	best := []float64{0.55, 0.3, 0.1, 0.05}
	prior := []float64{0.25, 0.25, 0.25, 0.25}
	uniformDist := l1(prior, best)
	for _, name := range Regressors {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 7))
			r, err := New(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Fit(planted(rng, 64, best, 0.005)); err != nil {
				t.Fatal(err)
			}
			got, pred := Best(r, rng, prior, 1, 20000, 100)
			t.Logf("%s: best %.3f (predicted %.4f, true %.4f); L1 to the planted %.3f, uniform's %.3f", name, got, pred, truth(got, best), l1(got, best), uniformDist)
			if name == RegressorLinear { // a linear fit's argmax is a corner: the best domain's
				if got[0] < 0.5 {
					t.Errorf("linear: %v does not lean on the best domain 0 of %v", got, best)
				}
				return
			}
			if got[0] <= got[1] || got[1] <= got[3] {
				t.Errorf("trees: %v does not order the domains as the planted %v", got, best)
			}
			if l1(got, best) > 0.3 {
				t.Errorf("trees: %v is %.3f from the planted %v (tolerance 0.3)", got, l1(got, best), best)
			}
			if truth(got, best) <= truth(prior, best) {
				t.Errorf("trees: the found mixture scores %v, no better than uniform's %v", truth(got, best), truth(prior, best))
			}
		})
	}
}

func TestFitRefusesBadObservations(t *testing.T) {
	for _, obs := range [][]Observation{
		{{[]float64{1, 0}, 1}},
		{{[]float64{1, 0}, 1}, {[]float64{1}, 2}},
		{{[]float64{1, 0}, 1}, {[]float64{0, 1}, math.NaN()}},
	} {
		for _, name := range Regressors {
			r, _ := New(name)
			if err := r.Fit(obs); err == nil {
				t.Errorf("%s accepted %v", name, obs)
			}
		}
	}
	if _, err := New("lightgbm"); err == nil {
		t.Error("New accepted an unknown regressor")
	}
}
