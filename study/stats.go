// Package study answers "which mixture, and how much does it gain over
// uniform?" with the statistics a reviewer asks for: per-seed means over
// evaluation sets, paired differences against uniform with t intervals and
// tests, per-set tests with Holm's correction, the minimum detectable
// effect, and the stability of learned weights across seeds.
package study

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Interval is a mean with a two-sided confidence interval.
type Interval struct {
	Mean, Lo, Hi float64
	N            int     // observations
	SD           float64 // sample standard deviation (n-1)
}

// MeanCI is the mean of x with its Student-t interval at level (e.g.
// 0.95). With one observation the interval is the point itself (no spread
// is known) and SD is 0.
func MeanCI(x []float64, level float64) (Interval, error) {
	n := len(x)
	if n == 0 {
		return Interval{}, errors.New("study: no observations")
	}
	if !(level > 0 && level < 1) {
		return Interval{}, fmt.Errorf("study: confidence level %v not in (0,1)", level)
	}
	mean := 0.0
	for _, v := range x {
		mean += v
	}
	mean /= float64(n)
	iv := Interval{Mean: mean, Lo: mean, Hi: mean, N: n}
	if n < 2 {
		return iv, nil
	}
	ss := 0.0
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	iv.SD = math.Sqrt(ss / float64(n-1))
	half := tQuantile(0.5+level/2, n-1) * iv.SD / math.Sqrt(float64(n))
	iv.Lo, iv.Hi = mean-half, mean+half
	return iv, nil
}

// Paired is a paired comparison of b against a: the mean difference b-a
// with its interval, the t statistic and the two-sided p-value.
type Paired struct {
	Diff Interval
	T, P float64 // P is 1 when there is no spread to test (n < 2 or all differences equal)
}

// PairedT is the paired t-test of b against a (same length: one pair per
// seed, say) at the given interval level.
func PairedT(a, b []float64, level float64) (Paired, error) {
	if len(a) != len(b) {
		return Paired{}, fmt.Errorf("study: %d and %d paired observations", len(a), len(b))
	}
	d := make([]float64, len(a))
	for i := range a {
		d[i] = b[i] - a[i]
	}
	iv, err := MeanCI(d, level)
	if err != nil {
		return Paired{}, err
	}
	out := Paired{Diff: iv, P: 1}
	if iv.N < 2 || iv.SD == 0 {
		return out, nil
	}
	out.T = iv.Mean / (iv.SD / math.Sqrt(float64(iv.N)))
	out.P = 2 * (1 - tCDF(math.Abs(out.T), iv.N-1))
	return out, nil
}

// Holm adjusts p-values for multiple comparisons with Holm's step-down
// method (controls the family-wise error rate, no independence assumed):
// the i-th smallest p is multiplied by m-i, made monotone, capped at 1.
func Holm(p []float64) []float64 {
	m := len(p)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return p[idx[i]] < p[idx[j]] })
	out := make([]float64, m)
	running := 0.0
	for rank, i := range idx {
		running = math.Max(running, math.Min(1, float64(m-rank)*p[i]))
		out[i] = running
	}
	return out
}

// Spearman is the rank correlation of x and y (ties get their mean rank);
// NaN when either has no spread.
func Spearman(x, y []float64) (float64, error) {
	if len(x) != len(y) || len(x) < 2 {
		return 0, fmt.Errorf("study: rank correlation needs two equal series of at least 2, got %d and %d", len(x), len(y))
	}
	rx, ry := ranks(x), ranks(y)
	return pearson(rx, ry), nil
}

func ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return x[idx[i]] < x[idx[j]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		mean := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = mean
		}
		i = j + 1
	}
	return r
}

func pearson(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

// MinimumDetectableEffect is the smallest true mean difference a paired
// t-test over n pairs with difference spread sd detects with the given
// power at two-sided level alpha: (t_{1-alpha/2} + t_{power}) * sd / sqrt(n)
// with n-1 degrees of freedom (the usual normal-approximation formula with
// t quantiles). NaN for n < 2.
func MinimumDetectableEffect(sd float64, n int, alpha, power float64) float64 {
	if n < 2 {
		return math.NaN()
	}
	return (tQuantile(1-alpha/2, n-1) + tQuantile(power, n-1)) * sd / math.Sqrt(float64(n))
}

func tQuantile(p float64, df int) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(df)}.Quantile(p)
}

func tCDF(t float64, df int) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(df)}.CDF(t)
}
