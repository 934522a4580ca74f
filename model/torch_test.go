package model

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/tdro/tdro/backend"
)

// loadFixture reads a checkpoint written by scripts/torch (no tokenizer).
func loadFixture(t *testing.T, dir string) *Model {
	t.Helper()
	cfg, err := readConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts, order, err := readWeights(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fromTensors(cfg, nil, ts, order, dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// hidden runs HiddenStates on a padded batch: [batch][seq][hidden].
func hidden(t *testing.T, m *Model, ids, mask [][]int32) [][][]float32 {
	t.Helper()
	b, l := len(ids), len(ids[0])
	var fi, fm []int32
	for i := range ids {
		fi = append(fi, ids[i]...)
		fm = append(fm, mask[i]...)
	}
	out, err := gmodel.ExecOnce(backend.MustGet(), m.Store, func(scope *gmodel.Scope, ids, mask *graph.Node) *graph.Node {
		return m.HiddenStates(scope, ids, mask)
	}, tensors.FromFlatDataAndDimensions(fi, b, l), tensors.FromFlatDataAndDimensions(fm, b, l))
	if err != nil {
		t.Fatal(err)
	}
	flat := tensors.MustCopyFlatData[float32](out)
	d := len(flat) / (b * l)
	res := make([][][]float32, b)
	for i := range res {
		res[i] = make([][]float32, l)
		for j := range res[i] {
			res[i][j] = flat[(i*l+j)*d : (i*l+j+1)*d]
		}
	}
	return res
}

// TestMatchesPyTorch compares last hidden states with fixtures computed by
// PyTorch (scripts/torch/*_fixture.py) at every real (unpadded) position.
func TestMatchesPyTorch(t *testing.T) {
	for _, name := range []string{"bert-torch", "roberta-torch", "qwen2-torch", "llama-torch"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			if _, err := os.Stat(dir); err != nil {
				t.Fatalf("fixture %s missing: run scripts/torch/*_fixture.py", dir)
			}
			m := loadFixture(t, dir)
			var want struct {
				IDs    [][]int32     `json:"ids"`
				Mask   [][]int32     `json:"mask"`
				Hidden [][][]float64 `json:"hidden"`
			}
			b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			got := hidden(t, m, want.IDs, want.Mask)
			worst, n := 0.0, 0
			for i := range want.IDs {
				for j := range want.IDs[i] {
					if want.Mask[i][j] == 0 {
						continue
					}
					n++
					for k, v := range want.Hidden[i][j] {
						worst = max(worst, math.Abs(float64(got[i][j][k])-v))
					}
				}
			}
			t.Logf("%d positions x %d dims: max abs error %.3g", n, len(want.Hidden[0][0]), worst)
			if worst > 1e-4 {
				t.Fatalf("max abs error %.3g > 1e-4", worst)
			}
		})
	}
}

// TestPoolingMatchesHiddenStates: CLS, mean and last-token pooling (and L2
// normalization) computed on the host from the hidden states.
func TestPoolingMatchesHiddenStates(t *testing.T) {
	m := loadFixture(t, filepath.Join("testdata", "bert-torch"))
	ids := [][]int32{{2, 45, 17, 88, 3}, {2, 12, 4, 0, 0}}
	mask := [][]int32{{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}}
	h := hidden(t, m, ids, mask)
	for _, p := range []Pooling{PoolCLS, PoolMean, PoolLast} {
		for _, norm := range []bool{false, true} {
			m.Config.Pooling, m.Config.Normalize = p, norm
			out, err := gmodel.ExecOnce(backend.MustGet(), m.Store, func(scope *gmodel.Scope, ids, mask *graph.Node) *graph.Node {
				return m.Embed(scope, ids, mask)
			}, tensors.FromValue(ids), tensors.FromValue(mask))
			if err != nil {
				t.Fatal(err)
			}
			got := tensors.MustCopyFlatData[float32](out)
			d := len(h[0][0])
			for b := range ids {
				n := 0
				for _, v := range mask[b] {
					n += int(v)
				}
				want := make([]float64, d)
				for k := range d {
					switch p {
					case PoolCLS:
						want[k] = float64(h[b][0][k])
					case PoolLast:
						want[k] = float64(h[b][n-1][k])
					case PoolMean:
						for j := range n {
							want[k] += float64(h[b][j][k]) / float64(n)
						}
					}
				}
				if norm {
					var s float64
					for _, v := range want {
						s += v * v
					}
					for k := range want {
						want[k] /= math.Sqrt(s)
					}
				}
				for k := range d {
					if diff := math.Abs(want[k] - float64(got[b*d+k])); diff > 1e-5 {
						t.Fatalf("%s normalize=%v row %d dim %d: got %g, want %g", p, norm, b, k, got[b*d+k], want[k])
					}
				}
			}
		}
	}
}
