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
	"github.com/tdro/tdro/internal/shareddata"
)

// logits runs the causal LM head over one sequence: [seq][vocab].
func logits(t testing.TB, m *Model, ids []int32) [][]float32 {
	t.Helper()
	mask := make([]int32, len(ids))
	for i := range mask {
		mask[i] = 1
	}
	out, err := gmodel.ExecOnce(backend.MustGet(), m.Store, func(scope *gmodel.Scope, ids, mask *graph.Node) *graph.Node {
		return m.Logits(scope, ids, mask)
	}, tensors.FromFlatDataAndDimensions(ids, 1, len(ids)), tensors.FromFlatDataAndDimensions(mask, 1, len(ids)))
	if err != nil {
		t.Fatal(err)
	}
	flat := tensors.MustCopyFlatData[float32](out)
	v := len(flat) / len(ids)
	rows := make([][]float32, len(ids))
	for i := range rows {
		rows[i] = flat[i*v : (i+1)*v]
	}
	return rows
}

// TestStories260KGoldenLogits: the full-sequence causal forward of the
// imported llama2.c checkpoint reproduces run.c's KV-cache logits at every
// position (RoPE, GQA, RMSNorm, SwiGLU, tied head).
func TestStories260KGoldenLogits(t *testing.T) {
	dir := filepath.Join(shareddata.Dir(t), "models", "llama2c")
	m, err := ImportLlama2C(filepath.Join(dir, "stories260K.bin"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Tokens []int32     `json:"tokens"`
		Logits [][]float64 `json:"logits"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "stories260K.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	got := logits(t, m, golden.Tokens)
	worst := 0.0
	for p, row := range golden.Logits {
		if len(row) != len(got[p]) {
			t.Fatalf("position %d: %d logits, want %d", p, len(got[p]), len(row))
		}
		for v, want := range row {
			worst = max(worst, math.Abs(float64(got[p][v])-want))
		}
	}
	t.Logf("max abs error over %d positions x %d logits: %.3g", len(golden.Logits), len(golden.Logits[0]), worst)
	if worst > 1e-4 {
		t.Fatalf("max abs error %.3g > 1e-4", worst)
	}
}
