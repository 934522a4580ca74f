// Package significance tells whether two runs on the same queries differ by
// more than chance: a paired two-sided t-test and a paired randomization
// (sign-flip permutation) test, exact for small samples.
package significance

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// TTest is a paired two-sided Student t-test of mean(a-b) = 0.
// With fewer than two pairs p is 1; with zero variance p is 1 when every
// difference is 0 and 0 otherwise (t is then ±Inf).
func TTest(a, b []float64) (t, p float64, err error) {
	d, err := diffs(a, b)
	if err != nil {
		return 0, 0, err
	}
	n := float64(len(d))
	if len(d) < 2 {
		return 0, 1, nil
	}
	mean := 0.0
	for _, x := range d {
		mean += x
	}
	mean /= n
	ss := 0.0
	for _, x := range d {
		ss += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(ss / (n - 1))
	if sd == 0 || sd < 1e-12*math.Abs(mean) {
		if mean == 0 {
			return 0, 1, nil
		}
		return math.Copysign(math.Inf(1), mean), 0, nil
	}
	t = mean / (sd / math.Sqrt(n))
	st := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: n - 1}
	p = 2 * st.Survival(math.Abs(t))
	return t, math.Min(p, 1), nil
}

// Randomization configures the paired randomization test.
type Randomization struct {
	// ExactMax: with at most this many non-zero differences every one of the
	// 2^n sign patterns is enumerated (default 20, about a million patterns).
	ExactMax int
	// Trials is the number of random sign patterns otherwise (default 100000).
	Trials int
	// Seed makes the Monte-Carlo p-value reproducible.
	Seed uint64
}

// Test returns the two-sided p-value of mean(a-b) = 0 under random sign
// flips of the paired differences, and whether it was exact. Monte-Carlo
// p-values are (hits+1)/(trials+1), never 0.
func (r Randomization) Test(a, b []float64) (p float64, exact bool, err error) {
	d, err := diffs(a, b)
	if err != nil {
		return 0, false, err
	}
	nz := d[:0:0]
	for _, x := range d {
		if x != 0 { // a zero difference flips to itself
			nz = append(nz, x)
		}
	}
	if len(nz) == 0 {
		return 1, true, nil
	}
	obs := 0.0
	for _, x := range nz {
		obs += x
	}
	// Compare sums with a relative tolerance so that sign patterns equal to
	// the observed one up to rounding count as "at least as extreme".
	tol := 1e-9 * sumAbs(nz)
	thresh := math.Abs(obs) - tol
	exactMax := r.ExactMax
	if exactMax == 0 {
		exactMax = 20
	}
	if len(nz) <= exactMax && len(nz) < 63 {
		total := uint64(1) << len(nz)
		hits := uint64(0)
		for mask := uint64(0); mask < total; mask++ {
			if math.Abs(signedSum(nz, mask)) >= thresh {
				hits++
			}
		}
		return float64(hits) / float64(total), true, nil
	}
	trials := r.Trials
	if trials <= 0 {
		trials = 100000
	}
	rng := rand.New(rand.NewPCG(r.Seed, 0x9e3779b97f4a7c15))
	hits := 0
	for i := 0; i < trials; i++ {
		s := 0.0
		for j := 0; j < len(nz); j += 64 {
			bitsLeft := rng.Uint64()
			for k := j; k < len(nz) && k < j+64; k++ {
				if bitsLeft&1 == 1 {
					s -= nz[k]
				} else {
					s += nz[k]
				}
				bitsLeft >>= 1
			}
		}
		if math.Abs(s) >= thresh {
			hits++
		}
	}
	return float64(hits+1) / float64(trials+1), false, nil
}

func signedSum(d []float64, mask uint64) float64 {
	s := 0.0
	for i, x := range d {
		if mask>>uint(i)&1 == 1 {
			s -= x
		} else {
			s += x
		}
	}
	return s
}

func sumAbs(d []float64) float64 {
	s := 0.0
	for _, x := range d {
		s += math.Abs(x)
	}
	return s
}

func diffs(a, b []float64) ([]float64, error) {
	if len(a) != len(b) {
		return nil, fmt.Errorf("paired test: %d values against %d", len(a), len(b))
	}
	d := make([]float64, len(a))
	for i := range a {
		if math.IsNaN(a[i]) || math.IsNaN(b[i]) {
			return nil, fmt.Errorf("paired test: NaN at pair %d", i)
		}
		d[i] = a[i] - b[i]
	}
	return d, nil
}

// Result is the comparison of run A against baseline B on the same queries.
type Result struct {
	N        int     `json:"n"`
	MeanDiff float64 `json:"mean_diff"` // mean(A - B)
	T        float64 `json:"t"`
	PTTest   float64 `json:"p_ttest"`
	PRandom  float64 `json:"p_randomization"`
	Exact    bool    `json:"randomization_exact"`
}

// Compare runs both tests on paired per-query values a (run) and b (baseline).
func Compare(a, b []float64, r Randomization) (Result, error) {
	t, pt, err := TTest(a, b)
	if err != nil {
		return Result{}, err
	}
	pr, exact, err := r.Test(a, b)
	if err != nil {
		return Result{}, err
	}
	mean := 0.0
	for i := range a {
		mean += a[i] - b[i]
	}
	if len(a) > 0 {
		mean /= float64(len(a))
	}
	return Result{N: len(a), MeanDiff: mean, T: t, PTTest: pt, PRandom: pr, Exact: exact}, nil
}

// P is the p-value marks are based on: the larger (more conservative) of the
// two tests.
func (r Result) P() float64 { return math.Max(r.PTTest, r.PRandom) }

// Mark is "‡" for p <= 0.01, "†" for p <= 0.05 and "" otherwise.
func Mark(p float64) string {
	switch {
	case p <= 0.01:
		return "‡"
	case p <= 0.05:
		return "†"
	}
	return ""
}
