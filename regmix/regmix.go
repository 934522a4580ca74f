// Package regmix is regression mixing (RegMix, Liu et al., ICLR 2025):
// short proxy runs on random mixtures, a regression from a mixture to the
// score it reached, and the mixture the regression predicts best. This
// package holds the method's arithmetic (sampling, the regressors, the
// argmax); the pipeline runs the proxies as stages.
package regmix

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Sample draws n mixtures over len(prior) domains from a Dirichlet with
// concentration alpha·prior·len(prior): centred on prior, more spread out
// the smaller alpha (alpha 1 on a uniform prior is uniform on the simplex).
// RegMix centres its draws on the token distribution; tdro passes the
// prior the caller chooses (uniform by default).
func Sample(rng *rand.Rand, n int, prior []float64, alpha float64) [][]float64 {
	conc := make([]float64, len(prior))
	sum := 0.0
	for _, p := range prior {
		sum += p
	}
	for i, p := range prior {
		conc[i] = math.Max(alpha*p/sum*float64(len(prior)), 1e-3)
	}
	// A Dirichlet draw is independent Gamma(conc_i, 1) draws, normalised.
	src := rand.NewPCG(rng.Uint64(), rng.Uint64())
	gammas := make([]distuv.Gamma, len(conc))
	for i, c := range conc {
		gammas[i] = distuv.Gamma{Alpha: c, Beta: 1, Src: src}
	}
	out := make([][]float64, n)
	for i := range out {
		w, sum := make([]float64, len(conc)), 0.0
		for j := range w {
			w[j] = gammas[j].Rand()
			sum += w[j]
		}
		for j := range w {
			w[j] /= sum
		}
		out[i] = w
	}
	return out
}

// Observation is one proxy run: its mixture and the validation score it
// reached (higher is better).
type Observation struct {
	Weights []float64 `json:"weights"`
	Score   float64   `json:"score"`
}

// Regressor predicts a mixture's score from observations.
type Regressor interface {
	Fit(obs []Observation) error
	Predict(w []float64) float64
}

// The regressors by name.
const (
	RegressorLinear = "linear" // ridge least squares on the weights
	RegressorTrees  = "trees"  // gradient-boosted regression trees (RegMix's LightGBM, small)
)

// Regressors lists the names New takes.
var Regressors = []string{RegressorLinear, RegressorTrees}

// New returns the regressor called name.
func New(name string) (Regressor, error) {
	switch name {
	case RegressorLinear:
		return &Linear{Ridge: 1e-3}, nil
	case RegressorTrees:
		return &Trees{Rounds: 200, Rate: 0.05, Depth: 3, MinLeaf: 2}, nil
	}
	return nil, fmt.Errorf("regmix: unknown regressor %q (want one of %v)", name, Regressors)
}

// Fitted is the regressor called name fitted to obs.
func Fitted(name string, obs []Observation) (Regressor, error) {
	r, err := New(name)
	if err != nil {
		return nil, err
	}
	if err := r.Fit(obs); err != nil {
		return nil, err
	}
	return r, nil
}

// Linear is score ≈ b + Σ c_i w_i, fitted by ridge least squares (the
// intercept is not penalised).
type Linear struct {
	Ridge  float64
	Coef   []float64 // c_i
	Offset float64   // b
}

// Fit solves (XᵀX + λI)β = Xᵀy on the centred data.
func (l *Linear) Fit(obs []Observation) error {
	k, err := check(obs)
	if err != nil {
		return err
	}
	n := len(obs)
	meanX := make([]float64, k)
	meanY := 0.0
	for _, o := range obs {
		for j, w := range o.Weights {
			meanX[j] += w / float64(n)
		}
		meanY += o.Score / float64(n)
	}
	x := mat.NewDense(n, k, nil)
	y := mat.NewVecDense(n, nil)
	for i, o := range obs {
		for j, w := range o.Weights {
			x.Set(i, j, w-meanX[j])
		}
		y.SetVec(i, o.Score-meanY)
	}
	var xtx mat.Dense
	xtx.Mul(x.T(), x)
	for j := range k {
		xtx.Set(j, j, xtx.At(j, j)+l.Ridge)
	}
	var xty mat.VecDense
	xty.MulVec(x.T(), y)
	var beta mat.VecDense
	if err := beta.SolveVec(&xtx, &xty); err != nil {
		return fmt.Errorf("regmix: linear fit: %w", err)
	}
	l.Coef = make([]float64, k)
	l.Offset = meanY
	for j := range k {
		l.Coef[j] = beta.AtVec(j)
		l.Offset -= l.Coef[j] * meanX[j]
	}
	return nil
}

// Predict is b + Σ c_i w_i.
func (l *Linear) Predict(w []float64) float64 {
	s := l.Offset
	for j, c := range l.Coef {
		s += c * w[j]
	}
	return s
}

// Trees is gradient boosting of small regression trees on squared error:
// each round fits a tree of depth Depth to the residuals and adds Rate
// times its prediction.
type Trees struct {
	Rounds, Depth, MinLeaf int
	Rate                   float64
	base                   float64
	trees                  []*node
}

type node struct {
	feature     int
	split       float64
	left, right *node
	value       float64 // a leaf's prediction
}

// Fit boosts Rounds trees.
func (t *Trees) Fit(obs []Observation) error {
	if _, err := check(obs); err != nil {
		return err
	}
	t.base, t.trees = 0, nil
	for _, o := range obs {
		t.base += o.Score / float64(len(obs))
	}
	resid := make([]float64, len(obs))
	for i, o := range obs {
		resid[i] = o.Score - t.base
	}
	idx := make([]int, len(obs))
	for i := range idx {
		idx[i] = i
	}
	for range t.Rounds {
		tree := grow(obs, resid, idx, t.Depth, t.MinLeaf)
		for i, o := range obs {
			resid[i] -= t.Rate * tree.predict(o.Weights)
		}
		t.trees = append(t.trees, tree)
	}
	return nil
}

// Predict sums the trees.
func (t *Trees) Predict(w []float64) float64 {
	s := t.base
	for _, tr := range t.trees {
		s += t.Rate * tr.predict(w)
	}
	return s
}

func (n *node) predict(w []float64) float64 {
	for n.left != nil {
		if w[n.feature] <= n.split {
			n = n.left
		} else {
			n = n.right
		}
	}
	return n.value
}

// grow fits one regression tree to y over the rows idx: the split of least
// squared error at each node, down to depth or minLeaf rows.
func grow(obs []Observation, y []float64, idx []int, depth, minLeaf int) *node {
	mean := 0.0
	for _, i := range idx {
		mean += y[i] / float64(len(idx))
	}
	leaf := &node{value: mean}
	if depth == 0 || len(idx) < 2*minLeaf {
		return leaf
	}
	best, bestF, bestSplit := math.Inf(1), -1, 0.0
	sorted := slices.Clone(idx)
	for f := range obs[idx[0]].Weights {
		sort.Slice(sorted, func(a, b int) bool { return obs[sorted[a]].Weights[f] < obs[sorted[b]].Weights[f] })
		// Prefix sums make each candidate split O(1).
		var sumL, sqL float64
		sumAll, sqAll := 0.0, 0.0
		for _, i := range sorted {
			sumAll += y[i]
			sqAll += y[i] * y[i]
		}
		for j := 0; j < len(sorted)-1; j++ {
			v := y[sorted[j]]
			sumL += v
			sqL += v * v
			nl, nr := float64(j+1), float64(len(sorted)-j-1)
			if j+1 < minLeaf || len(sorted)-j-1 < minLeaf {
				continue
			}
			a, b := obs[sorted[j]].Weights[f], obs[sorted[j+1]].Weights[f]
			if a == b {
				continue
			}
			sse := sqL - sumL*sumL/nl + (sqAll - sqL) - (sumAll-sumL)*(sumAll-sumL)/nr
			if sse < best {
				best, bestF, bestSplit = sse, f, (a+b)/2
			}
		}
	}
	if bestF < 0 {
		return leaf
	}
	var l, r []int
	for _, i := range idx {
		if obs[i].Weights[bestF] <= bestSplit {
			l = append(l, i)
		} else {
			r = append(r, i)
		}
	}
	return &node{feature: bestF, split: bestSplit, left: grow(obs, y, l, depth-1, minLeaf), right: grow(obs, y, r, depth-1, minLeaf)}
}

// Best is the mixture the regressor predicts best: it predicts candidates
// mixtures drawn as Sample draws them and averages the top of them (RegMix
// averages the best 100 of its simulated mixtures, which smooths the
// argmax of a noisy fit). It returns that average and its prediction.
func Best(r Regressor, rng *rand.Rand, prior []float64, alpha float64, candidates, top int) ([]float64, float64) {
	cands := Sample(rng, candidates, prior, alpha)
	pred := make([]float64, len(cands))
	order := make([]int, len(cands))
	for i, c := range cands {
		pred[i], order[i] = r.Predict(c), i
	}
	sort.SliceStable(order, func(a, b int) bool { return pred[order[a]] > pred[order[b]] })
	top = min(top, len(cands))
	avg := make([]float64, len(prior))
	for _, i := range order[:top] {
		for j, w := range cands[i] {
			avg[j] += w / float64(top)
		}
	}
	return avg, r.Predict(avg)
}

func check(obs []Observation) (int, error) {
	if len(obs) < 2 {
		return 0, errors.New("regmix: need at least 2 observations")
	}
	k := len(obs[0].Weights)
	for i, o := range obs {
		if len(o.Weights) != k {
			return 0, fmt.Errorf("regmix: observation %d has %d weights, the first %d", i, len(o.Weights), k)
		}
		if math.IsNaN(o.Score) || math.IsInf(o.Score, 0) {
			return 0, fmt.Errorf("regmix: observation %d has score %v", i, o.Score)
		}
	}
	return k, nil
}
