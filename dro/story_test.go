package dro

import (
	"math"
	"math/rand/v2"
	"testing"
)

// simDomain is a synthetic training domain. Its expected loss for a model
// with skill theta is scale * (floor + headroom * exp(-theta)); the proxy's
// skill grows with the weight its examples get (learn is how fast), the
// reference's skill is fixed.
type simDomain struct {
	scale    float64
	learn    float64
	refSkill float64
}

const (
	simFloor    = 0.2
	simHeadroom = 0.8
)

// simulate runs the tDRO loop on synthetic domains: batches mix domains
// uniformly, per-example proxy and reference losses carry 10% noise, the
// learner updates alpha, and the proxy's skill on domain g grows by
// learn_g * lr * (sum of the normalised example weights of g) — so a domain
// that gets weight gets easier for the proxy, as in training.
func simulate(t *testing.T, m Measure, doms []simDomain, steps int) *Learner {
	t.Helper()
	const batch, lr = 32, 0.01
	rng := rand.New(rand.NewPCG(1, 2))
	l, err := NewLearner(len(doms), UpdateConfig{Measure: m})
	if err != nil {
		t.Fatal(err)
	}
	skill := make([]float64, len(doms))
	loss := func(d simDomain, theta float64) float64 {
		return d.scale * (simFloor + simHeadroom*math.Exp(-theta)) * (1 + 0.1*rng.NormFloat64())
	}
	proxy, ref, dom := make([]float64, batch), make([]float64, batch), make([]int, batch)
	for range steps {
		for i := range batch {
			dom[i] = rng.IntN(len(doms))
			proxy[i] = loss(doms[dom[i]], skill[dom[i]])
			ref[i] = loss(doms[dom[i]], doms[dom[i]].refSkill)
		}
		if _, err := l.Observe(proxy, ref, dom); err != nil {
			t.Fatal(err)
		}
		l.Update()
		for i, w := range l.ExampleWeights(dom) {
			skill[dom[i]] += doms[dom[i]].learn * lr * w
		}
	}
	return l
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// The paper's Table 1: losses of different domains differ in scale, so raw
// losses (GroupDRO) chase the domain with the largest loss, while the
// relative measurement (proxy over reference) sees that every domain has the
// same headroom and keeps the weights near-equal.
func TestTable1ScaleInvariance(t *testing.T) {
	doms := []simDomain{
		{scale: 1, learn: 1, refSkill: 2},
		{scale: 3, learn: 1, refSkill: 2},
		{scale: 5, learn: 1, refSkill: 2},
	}
	const steps = 400
	rel := simulate(t, Relative, doms, steps)
	raw := simulate(t, Raw, doms, steps)
	off := simulate(t, RelativeOfficial, doms, steps)
	exc := simulate(t, Excess, doms, steps)
	t.Logf("relative alpha %.3f, relative-official %.3f, excess %.3f, raw %.3f", rel.Alpha, off.Alpha, exc.Alpha, raw.Alpha)
	if max := rel.Alpha[argmax(rel.Alpha)]; max >= 0.5 {
		t.Errorf("relative: max weight %.3f, want < 0.5 (near-equal)", max)
	}
	if max := off.Alpha[argmax(off.Alpha)]; max >= 0.5 {
		t.Errorf("relative-official: max weight %.3f, want < 0.5", max)
	}
	if raw.Alpha[2] <= 0.6 {
		t.Errorf("raw: weight of the 5x-loss domain %.3f, want > 0.6", raw.Alpha[2])
	}
	// The excess loss (DoReMi) is a difference, so it scales with the loss
	// too: the 1x domain is starved (once the proxy catches up on the 5x
	// domain, its excess vanishes and weight moves to the 3x one).
	if exc.Alpha[0] >= 0.15 {
		t.Errorf("excess: alpha %.3f, want the 1x domain starved (< 0.15)", exc.Alpha)
	}
}

// A domain the proxy learns slowly keeps its proxy loss far above its
// reference loss: relative up-weights it above uniform and above the rest,
// although its loss scale is the smallest.
func TestRelativeUpweightsPersistentGap(t *testing.T) {
	doms := []simDomain{
		{scale: 0.5, learn: 0.05, refSkill: 2}, // hard for the proxy
		{scale: 1, learn: 1, refSkill: 2},
		{scale: 3, learn: 1, refSkill: 2},
		{scale: 5, learn: 1, refSkill: 2},
	}
	rel := simulate(t, Relative, doms, 400)
	t.Logf("relative alpha %.3f", rel.Alpha)
	if argmax(rel.Alpha) != 0 || rel.Alpha[0] <= 1.0/4+0.05 {
		t.Errorf("relative: alpha %v, want domain 0 the largest and > 0.30", rel.Alpha)
	}
	raw := simulate(t, Raw, doms, 400)
	t.Logf("raw alpha %.3f", raw.Alpha)
	if raw.Alpha[0] >= 0.25 {
		t.Errorf("raw: alpha %v; raw should not see domain 0's gap", raw.Alpha)
	}
}
