package train

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/tdro/tdro/backend"
)

func TestLearningRateSchedule(t *testing.T) {
	c := OptimizerConfig{LearningRate: 1, WarmupSteps: 4, MinLRRatio: 0.1, Decay: DecayCosine}
	tests := []struct {
		decay      string
		step, want float64
	}{
		{DecayCosine, 0, 0.25}, {DecayCosine, 3, 1}, {DecayCosine, 4, 1}, {DecayCosine, 9, 0.55}, {DecayCosine, 14, 0.1},
		{DecayLinear, 9, 0.55}, {DecayLinear, 6, 0.82}, {DecayLinear, 14, 0.1}, {DecayConstant, 14, 1}, {DecayConstant, 1, 0.5},
	}
	for _, tc := range tests {
		c.Decay = tc.decay
		if got := c.LearningRateAt(int(tc.step), 15); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s step %v: lr %v, want %v", tc.decay, tc.step, got, tc.want)
		}
	}
}

// TestAdamWMatchesHost checks clipping, bias correction and decoupled weight
// decay (skipped for the rank-1 bias) against a host implementation.
func TestAdamWMatchesHost(t *testing.T) {
	be := backend.MustGet()
	store := gmodel.NewStore()
	w0 := []float32{1, -2, 3, 0.5}
	b0 := []float32{0.3, -0.7}
	wv, _ := store.CreateVariable("/p/w", tensors.FromFlatDataAndDimensions(append([]float32(nil), w0...), 2, 2))
	bv, _ := store.CreateVariable("/p/b", tensors.FromFlatDataAndDimensions(append([]float32(nil), b0...), 2))
	cfg := OptimizerConfig{LearningRate: 0.1, Beta1: 0.9, Beta2: 0.99, Epsilon: 1e-8, WeightDecay: 0.5, ClipNorm: 2}
	opt, err := NewAdamW(store, TrainableVariables(store), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := opt.Params(); got[0] != bv || got[1] != wv {
		t.Fatalf("params not in path order: %v", got)
	}
	// loss = sum(w^2) + 3*sum(b): gradients 2w and 3.
	exe := gmodel.MustNewExec(be, store, func(scope *gmodel.Scope, lr *graph.Node) *graph.Node {
		g := lr.Graph()
		loss := graph.Add(graph.ReduceAllSum(graph.Square(wv.NodeValue(g))), graph.MulScalar(graph.ReduceAllSum(bv.NodeValue(g)), 3))
		return opt.Update(graph.Gradient(loss, opt.ParamNodes(g)...), lr)
	})
	w := []float64{1, -2, 3, 0.5}
	b := []float64{0.3, -0.7}
	mw, vw, mb, vb := make([]float64, 4), make([]float64, 4), make([]float64, 2), make([]float64, 2)
	for step := 1; step <= 3; step++ {
		lr := 0.1 / float64(step)
		gw := make([]float64, 4)
		gb := []float64{3, 3}
		sq := 18.0
		for i := range w {
			gw[i] = 2 * w[i]
			sq += gw[i] * gw[i]
		}
		norm := math.Sqrt(sq)
		scale := math.Min(1, 2/(norm+1e-6))
		adam := func(p, g, m, v []float64, decay float64) {
			for i := range p {
				gi := g[i] * scale
				m[i] = 0.9*m[i] + 0.1*gi
				v[i] = 0.99*v[i] + 0.01*gi*gi
				mh := m[i] / (1 - math.Pow(0.9, float64(step)))
				vh := v[i] / (1 - math.Pow(0.99, float64(step)))
				p[i] -= lr * (mh/(math.Sqrt(vh)+1e-8) + decay*p[i])
			}
		}
		adam(w, gw, mw, vw, 0.5)
		adam(b, gb, mb, vb, 0)
		gotNorm := tensors.ToScalar[float32](exe.MustCall1(tensors.FromScalar(float32(lr))))
		if math.Abs(float64(gotNorm)-norm) > 1e-4*norm {
			t.Fatalf("step %d: grad norm %v, want %v", step, gotNorm, norm)
		}
		gw32 := tensors.MustCopyFlatData[float32](wv.MustValue())
		gb32 := tensors.MustCopyFlatData[float32](bv.MustValue())
		for i := range w {
			if math.Abs(float64(gw32[i])-w[i]) > 1e-5 {
				t.Fatalf("step %d: w = %v, want %v", step, gw32, w)
			}
		}
		for i := range b {
			if math.Abs(float64(gb32[i])-b[i]) > 1e-5 {
				t.Fatalf("step %d: b = %v, want %v", step, gb32, b)
			}
		}
	}
}
