package train

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/tdro/tdro/backend"
)

// infoNCEHost is InfoNCE written out on the host, the reference for the graph.
func infoNCEHost(q, p [][]float64, cfg LossConfig) []float64 {
	b, group := len(q), len(p)/len(q)
	norm := func(x []float64) []float64 {
		if cfg.Similarity == Dot {
			return x
		}
		s := 0.0
		for _, v := range x {
			s += v * v
		}
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = v / math.Sqrt(s)
		}
		return out
	}
	dot := func(a, c []float64) float64 {
		a, c = norm(a), norm(c)
		s := 0.0
		for i := range a {
			s += a[i] * c[i]
		}
		return s / cfg.Temperature
	}
	loss := make([]float64, b)
	for i := range q {
		var logits []float64
		target := i * group
		if cfg.HardNegativesOnly {
			for j := i * group; j < (i+1)*group; j++ {
				logits = append(logits, dot(q[i], p[j]))
			}
			target = 0
		} else {
			for j := range p {
				logits = append(logits, dot(q[i], p[j]))
			}
		}
		m := math.Inf(-1)
		for _, l := range logits {
			m = math.Max(m, l)
		}
		s := 0.0
		for _, l := range logits {
			s += math.Exp(l - m)
		}
		loss[i] = m + math.Log(s) - logits[target]
	}
	return loss
}

func TestInfoNCEMatchesHost(t *testing.T) {
	be := backend.MustGet()
	rng := rand.New(rand.NewPCG(1, 2))
	const b, group, d = 4, 3, 5
	mat := func(rows int) ([][]float64, []float32) {
		m := make([][]float64, rows)
		var flat []float32
		for i := range m {
			m[i] = make([]float64, d)
			for j := range m[i] {
				v := float32(rng.NormFloat64())
				m[i][j] = float64(v)
				flat = append(flat, v)
			}
		}
		return m, flat
	}
	q, qf := mat(b)
	p, pf := mat(b * group)
	for _, cfg := range []LossConfig{
		{Temperature: 0.05, Similarity: Cosine},
		{Temperature: 0.002, Similarity: Cosine, HardNegativesOnly: true},
		{Temperature: 1, Similarity: Dot},
		{Temperature: 0.5, Similarity: Dot, HardNegativesOnly: true, CrossDeviceNegatives: true},
	} {
		exe := graph.MustNewExec(be, func(q, p *graph.Node) *graph.Node { return InfoNCE(q, p, cfg) })
		got := tensors.MustCopyFlatData[float32](exe.MustCall1(
			tensors.FromFlatDataAndDimensions(qf, b, d), tensors.FromFlatDataAndDimensions(pf, b*group, d)))
		want := infoNCEHost(q, p, cfg)
		for i := range want {
			if math.Abs(float64(got[i])-want[i]) > 1e-3*math.Max(1, want[i]) {
				t.Errorf("%+v: loss[%d] = %v, want %v", cfg, i, got[i], want[i])
			}
		}
	}
}

func TestCrossDeviceNegatives(t *testing.T) {
	for _, tc := range []struct {
		cross   bool
		devices int
		ok      bool
	}{{false, 1, true}, {true, 1, true}, {false, 8, true}, {true, 2, false}} {
		err := LossConfig{Temperature: 0.05, CrossDeviceNegatives: tc.cross}.checkDevices(tc.devices)
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "2 devices")) {
			t.Errorf("cross=%v on %d devices: %v", tc.cross, tc.devices, err)
		}
	}
}
