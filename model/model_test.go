package model

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/tdro/tdro/backend"
	"github.com/tdro/tdro/internal/shareddata"
	"github.com/tdro/tdro/tokenize"
)

func loadTokenizer(t testing.TB, name string) *tokenize.Tokenizer {
	t.Helper()
	tok, err := tokenize.Load(filepath.Join(shareddata.Dir(t), "tokenizers", name))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tinyModel builds a small random model of the given preset with a vocabulary
// matching the tokenizer.
func tinyModel(t testing.TB, preset, tokName string) *Model {
	t.Helper()
	tok := loadTokenizer(t, tokName)
	cfg, err := Preset(preset, tok.VocabSize())
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, tok, 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEncodeIsPaddingInvariant: a text's embedding must not depend on what
// else is in its batch (padding, masks, sorting and the batch-fill rows).
func TestEncodeIsPaddingInvariant(t *testing.T) {
	for _, tc := range []struct{ preset, tok string }{
		{"tiny-bert", "all-MiniLM-L6-v2"},
		{"tiny-qwen2", "qwen3"},
	} {
		t.Run(tc.preset, func(t *testing.T) {
			m := tinyModel(t, tc.preset, tc.tok)
			texts := []string{"short one", "a much longer text that needs more tokens than the first one does", "mid length text here"}
			all, err := m.Encode(texts, 64, 2)
			if err != nil {
				t.Fatal(err)
			}
			for i, text := range texts {
				one, err := m.Encode([]string{text}, 64, 1)
				if err != nil {
					t.Fatal(err)
				}
				if len(one[0]) != m.Config.HiddenSize {
					t.Fatalf("dim %d, want %d", len(one[0]), m.Config.HiddenSize)
				}
				var norm float64
				for j, v := range one[0] {
					norm += float64(v) * float64(v)
					if d := math.Abs(float64(v - all[i][j])); d > 1e-5 {
						t.Fatalf("text %d dim %d: alone %g, in batch %g", i, j, v, all[i][j])
					}
				}
				if math.Abs(norm-1) > 1e-4 {
					t.Fatalf("norm² = %g, want 1", norm)
				}
			}
		})
	}
}

// TestBatchMatMulGradient: the hand-made gradient equals autodiff's.
func TestBatchMatMulGradient(t *testing.T) {
	outs, err := gmodel.ExecOnceN(backend.MustGet(), gmodel.NewStore(), func(scope *gmodel.Scope, g *graph.Graph) []*graph.Node {
		x := graph.Sin(graph.MulScalar(graph.IotaFull(g, shapes.Make(dtypes.Float32, 3, 5, 4)), 0.7))
		y := graph.Cos(graph.MulScalar(graph.IotaFull(g, shapes.Make(dtypes.Float32, 3, 4, 6)), 0.3))
		w := graph.Sin(graph.IotaFull(g, shapes.Make(dtypes.Float32, 3, 5, 6)))
		plain := graph.DotGeneral(x, []int{2}, []int{0}, y, []int{1}, []int{0})
		fast := batchMatMul(x, y)
		gp := graph.Gradient(graph.ReduceAllSum(graph.Mul(plain, w)), x, y)
		gf := graph.Gradient(graph.ReduceAllSum(graph.Mul(fast, w)), x, y)
		return []*graph.Node{plain, fast, gp[0], gf[0], gp[1], gf[1]}
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(outs); i += 2 {
		a, b := tensors.MustCopyFlatData[float32](outs[i]), tensors.MustCopyFlatData[float32](outs[i+1])
		for j := range a {
			if math.Abs(float64(a[j]-b[j])) > 1e-5 {
				t.Fatalf("output %d[%d]: autodiff %g, hand-made %g", i/2, j, a[j], b[j])
			}
		}
	}
}

// TestEveryWeightGetsAGradient: full training (dropout on) differentiates
// through every op of both families and reaches every weight.
func TestEveryWeightGetsAGradient(t *testing.T) {
	for _, typ := range []string{"bert", "llama", "qwen2"} {
		t.Run(typ, func(t *testing.T) {
			m := newSmall(t, typ, 4)
			m.Config.HiddenDropout, m.Config.AttentionDropout = 0.1, 0.1
			var names []string
			outs, err := gmodel.ExecOnceN(backend.MustGet(), m.Store, func(scope *gmodel.Scope, ids, mask *graph.Node) []*graph.Node {
				g := ids.Graph()
				scope.Store().SetTraining(g, true)
				e := m.Embed(scope, ids, mask)
				loss := graph.ReduceAllSum(graph.Mul(e, graph.Sin(graph.IotaFull(g, e.Shape()))))
				grads := scope.BuildTrainableVariablesGradientsGraph(loss)
				for v := range scope.IterVariables() {
					if v.Trainable && v.InUseByGraph(g) {
						names = append(names, v.Path())
					}
				}
				return grads
			}, tensors.FromValue([][]int32{{101, 7, 8, 9, 102}, {101, 10, 102, 0, 0}}), tensors.FromValue([][]int32{{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}}))
			if err != nil {
				t.Fatal(err)
			}
			if want := len(m.TensorNames()); len(names) != want {
				t.Fatalf("%d weights in the gradient, want %d", len(names), want)
			}
			for i, n := range names {
				var sum float64
				for _, v := range tensors.MustCopyFlatData[float32](outs[i]) {
					if math.IsNaN(float64(v)) {
						t.Fatalf("%s: NaN gradient", n)
					}
					sum += math.Abs(float64(v))
				}
				if sum == 0 {
					t.Fatalf("%s: zero gradient", n)
				}
			}
		})
	}
}
