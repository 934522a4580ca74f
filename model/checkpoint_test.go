package model

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/tdro/tdro/backend"
)

// smallConfig is a tiny config of each family over the MiniLM vocabulary.
func smallConfig(modelType string) *Config {
	c := &Config{ModelType: modelType, VocabSize: 30522, HiddenSize: 32, NumLayers: 2, NumHeads: 4,
		IntermediateSize: 64, MaxPositions: 128}
	if c.family().tiesEmbeddings() {
		c.NumKVHeads = 2
		c.TieEmbeddings = true
	}
	c.Normalize = true
	return c
}

func newSmall(t testing.TB, modelType string, seed uint64) *Model {
	t.Helper()
	m, err := New(smallConfig(modelType), loadTokenizer(t, "all-MiniLM-L6-v2"), seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sameWeights compares every weight bit for bit.
func sameWeights(t *testing.T, a, b *Model) {
	t.Helper()
	if strings.Join(a.TensorNames(), ",") != strings.Join(b.TensorNames(), ",") {
		t.Fatalf("tensor names differ:\n%v\n%v", a.TensorNames(), b.TensorNames())
	}
	for _, n := range a.TensorNames() {
		x, err := a.hostWeight(n)
		if err != nil {
			t.Fatal(err)
		}
		y, err := b.hostWeight(n)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(x.shape, y.shape) {
			t.Fatalf("%s: shape %v vs %v", n, x.shape, y.shape)
		}
		for i := range x.data {
			if math.Float32bits(x.data[i]) != math.Float32bits(y.data[i]) {
				t.Fatalf("%s[%d]: %g vs %g", n, i, x.data[i], y.data[i])
			}
		}
	}
}

func TestSaveLoadRoundTripIsBitExact(t *testing.T) {
	for _, typ := range []string{"bert", "qwen2", "mistral"} {
		t.Run(typ, func(t *testing.T) {
			m := newSmall(t, typ, 7)
			m.Config.Pooling = PoolMean
			dir := filepath.Join(t.TempDir(), "ckpt")
			if err := m.Save(dir); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json", "sentence_bert_config.json"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Fatalf("missing %s: %v", f, err)
				}
			}
			back, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			sameWeights(t, m, back)
			if back.Config.Pooling != PoolMean || !back.Config.Normalize || back.Config.ModelType != typ {
				t.Fatalf("config after load: %+v", back.Config)
			}
			// Saving again writes the same bytes.
			dir2 := filepath.Join(t.TempDir(), "ckpt2")
			if err := back.Save(dir2); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"config.json", "model.safetensors", "modules.json", "1_Pooling/config.json"} {
				a, _ := os.ReadFile(filepath.Join(dir, f))
				b, _ := os.ReadFile(filepath.Join(dir2, f))
				if !bytes.Equal(a, b) {
					t.Fatalf("%s differs after a second save", f)
				}
			}
			sameEmbeddings(t, m, back) // embeddings agree too
		})
	}
}

// sameEmbeddings requires two models to embed the same texts identically.
func sameEmbeddings(t *testing.T, a, b *Model) {
	t.Helper()
	texts := []string{"a short query", "a passage about something else entirely"}
	e1, err := a.Encode(texts, 32, 2)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := b.Encode(texts, 32, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range e1 {
		for j := range e1[i] {
			if e1[i][j] != e2[i][j] {
				t.Fatalf("embedding %d[%d]: %g vs %g", i, j, e1[i][j], e2[i][j])
			}
		}
	}
}

// rewriteWeights replaces a checkpoint's model.safetensors.
func rewriteWeights(t *testing.T, dir string, edit func(ts map[string]*hostTensor, order []string) []string) {
	t.Helper()
	ts, order, err := readSafetensors(filepath.Join(dir, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	order = edit(ts, order)
	if err := writeSafetensors(filepath.Join(dir, WeightsFile), order, ts, nil); err != nil {
		t.Fatal(err)
	}
}

func TestLoadShardedAndCausalLMNames(t *testing.T) {
	m := newSmall(t, "llama", 3)
	m.Config.TieEmbeddings = false
	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	// Rename to LlamaForCausalLM's layout with its own head, then shard.
	ts, order, err := readSafetensors(filepath.Join(dir, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	head := &hostTensor{shape: []int{30522, 32}, data: make([]float32, 30522*32)}
	for i := range head.data {
		head.data[i] = float32(i%97) / 97
	}
	shards := [2]map[string]*hostTensor{{}, {}}
	var names [2][]string
	index := map[string]string{}
	for i, n := range append(order, "lm_head.weight") {
		t0, out := ts[n], "model."+n
		if n == "lm_head.weight" {
			t0, out = head, n
		}
		s := i % 2
		shards[s][out] = t0
		names[s] = append(names[s], out)
		index[out] = []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[s]
	}
	for s := range 2 {
		f := []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[s]
		if err := writeSafetensors(filepath.Join(dir, f), names[s], shards[s], nil); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": index})
	if err := os.WriteFile(filepath.Join(dir, WeightsIndexFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, WeightsFile)); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range m.TensorNames() {
		x, _ := m.hostWeight(n)
		y, _ := back.hostWeight(n)
		for i := range x.data {
			if x.data[i] != y.data[i] {
				t.Fatalf("%s differs after sharded load", n)
			}
		}
	}
	got, err := back.hostWeight("lm_head.weight")
	if err != nil {
		t.Fatal(err)
	}
	if got.data[98] != head.data[98] {
		t.Fatal("lm_head not loaded")
	}
	if back.architecture() != "LlamaForCausalLM" {
		t.Fatalf("architecture %s", back.architecture())
	}
}

func TestBadCheckpointsGiveClearErrors(t *testing.T) {
	base := filepath.Join(t.TempDir(), "base")
	if err := newSmall(t, "bert", 1).Save(base); err != nil {
		t.Fatal(err)
	}
	copyDir := func(t *testing.T) string {
		dst := filepath.Join(t.TempDir(), "ckpt")
		if err := os.CopyFS(dst, os.DirFS(base)); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	editConfig := func(t *testing.T, dir string, edit func(map[string]any)) {
		p := filepath.Join(dir, ConfigFile)
		b, _ := os.ReadFile(p)
		var c map[string]any
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		edit(c)
		b, _ = json.Marshal(c)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, want string
		break_     func(t *testing.T, dir string)
	}{
		{"missing tensor", "tensor encoder.layer.1.output.dense.weight is missing", func(t *testing.T, dir string) {
			rewriteWeights(t, dir, func(ts map[string]*hostTensor, order []string) []string {
				var out []string
				for _, n := range order {
					if n != "encoder.layer.1.output.dense.weight" {
						out = append(out, n)
					}
				}
				return out
			})
		}},
		{"wrong shape", "tensor encoder.layer.0.attention.self.query.weight has shape [32 16], the config needs [32 32]", func(t *testing.T, dir string) {
			rewriteWeights(t, dir, func(ts map[string]*hostTensor, order []string) []string {
				q := ts["encoder.layer.0.attention.self.query.weight"]
				q.shape, q.data = []int{32, 16}, q.data[:32*16]
				return order
			})
		}},
		{"unknown architecture", `model_type "gpt2" is not supported`, func(t *testing.T, dir string) {
			editConfig(t, dir, func(c map[string]any) { c["model_type"] = "gpt2" })
		}},
		{"vocab mismatch", "has 30522 tokens but the model's vocab_size is 1000", func(t *testing.T, dir string) {
			editConfig(t, dir, func(c map[string]any) { c["vocab_size"] = 1000 })
		}},
		{"no weights", "has neither model.safetensors nor model.safetensors.index.json", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, WeightsFile))
		}},
		{"truncated weights", "not a safetensors file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, WeightsFile), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, 0o644)
		}},
		{"no tokenizer", "has no tokenizer.json", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "tokenizer.json"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t)
			tc.break_(t, dir)
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestLoRAMergeEqualsBasePlusBA: the saved weight is W + (alpha/r)·B·A for
// every target the family has (BERT's six, a decoder's seven with
// gate_proj), only adapters are trainable, and the merged model embeds like
// the adapted one.
func TestLoRAMergeEqualsBasePlusBA(t *testing.T) {
	for _, tc := range []struct {
		typ     string
		targets []string
	}{
		{"bert", []string{"q_proj", "v_proj", "up_proj", "down_proj", "o_proj", "k_proj"}},
		{"qwen2", []string{"q_proj", "v_proj", "up_proj", "gate_proj", "down_proj", "o_proj", "k_proj"}},
		{"llama", []string{"gate_proj", "up_proj", "down_proj", "q_proj", "k_proj", "v_proj", "o_proj"}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			m := newSmall(t, tc.typ, 5)
			if err := m.EnableLoRA(LoRA{Rank: 4, Alpha: 8, Targets: tc.targets}, 9); err != nil {
				t.Fatal(err)
			}
			trainable := 0
			for v := range m.Store.IterVariables() {
				isLoRA := strings.Contains(v.Path(), "/lora_")
				if v.Trainable != isLoRA {
					t.Fatalf("%s trainable=%v", v.Path(), v.Trainable)
				}
				if isLoRA {
					trainable++
				}
			}
			adapted := loraLinears(m.Config)
			if want := 2 * len(tc.targets) * m.Config.NumLayers; trainable != want || 2*len(adapted) != want {
				t.Fatalf("%d adapter tensors on %d linears, want %d", trainable, len(adapted), want)
			}
			// Give B non-zero values, as training would.
			setLoRAB(m, func(i int) float32 { return float32(math.Sin(float64(i)*0.37)) * 0.05 })
			texts := []string{"adapted model", "another text with more words in it"}
			want, err := m.Encode(texts, 32, 2)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "merged")
			if err := m.Save(dir); err != nil {
				t.Fatal(err)
			}
			back, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range adapted {
				w, _ := m.hostWeight(p + ".weight")
				a, _ := m.hostWeight(p + ".lora_A.weight")
				b, _ := m.hostWeight(p + ".lora_B.weight")
				merged, _ := back.hostWeight(p + ".weight")
				out, in, r := w.shape[0], w.shape[1], a.shape[0]
				for o := range out {
					for i := range in {
						var ba float64
						for k := range r {
							ba += float64(b.data[o*r+k]) * float64(a.data[k*in+i])
						}
						exp := float64(w.data[o*in+i]) + 8.0/4.0*ba
						if d := math.Abs(exp - float64(merged.data[o*in+i])); d > 1e-6 {
							t.Fatalf("%s: merged[%d,%d] = %g, want W+(alpha/r)BA = %g", p, o, i, merged.data[o*in+i], exp)
						}
					}
				}
				if back.Var(p+".lora_A.weight") != nil {
					t.Fatalf("saved checkpoint still has the adapter of %s", p)
				}
			}
			got, err := back.Encode(texts, 32, 2)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				for j := range want[i] {
					if d := math.Abs(float64(want[i][j] - got[i][j])); d > 1e-5 {
						t.Fatalf("embedding %d[%d]: adapted %g, merged %g", i, j, want[i][j], got[i][j])
					}
				}
			}
		})
	}
}

// TestLoRATargetsTheModelLacks: a target with no projection in the model
// (BERT has no gate_proj) is an error naming it and the model type, from New
// and from EnableLoRA, which then leaves the model untouched; before, gate_proj
// alone attached nothing and froze nothing, so "LoRA" trained every weight.
func TestLoRATargetsTheModelLacks(t *testing.T) {
	for _, tc := range []struct {
		typ     string
		targets []string
		want    string // "" = accepted
	}{
		{"bert", []string{"gate_proj"}, "lora: target_modules gate_proj: a bert model has no such projection (its targets: q_proj k_proj v_proj o_proj up_proj down_proj)"},
		{"bert", []string{"q_proj", "gate_proj", "v_proj"}, "lora: target_modules gate_proj: a bert model"},
		{"roberta", []string{"gate_proj"}, "a roberta model has no such projection"},
		{"bert", []string{"up_proj", "down_proj"}, ""},
		{"qwen2", []string{"gate_proj"}, ""},
	} {
		t.Run(tc.typ+"/"+strings.Join(tc.targets, ","), func(t *testing.T) {
			check := func(how string, err error) {
				t.Helper()
				if tc.want == "" && err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
					t.Fatalf("%s: error %v, want one containing %q", how, err, tc.want)
				}
			}
			c := smallConfig(tc.typ)
			c.LoRA = &LoRA{Rank: 2, Targets: tc.targets}
			_, err := New(c, loadTokenizer(t, "all-MiniLM-L6-v2"), 1)
			check("New", err)

			m := newSmall(t, tc.typ, 1)
			err = m.EnableLoRA(LoRA{Rank: 2, Targets: tc.targets}, 1)
			check("EnableLoRA", err)
			if err != nil {
				if m.Config.LoRA != nil {
					t.Fatal("failed EnableLoRA left a LoRA config on the model")
				}
				for v := range m.Store.IterVariables() {
					if !v.Trainable || strings.Contains(v.Path(), "/lora_") {
						t.Fatalf("failed EnableLoRA changed %s (trainable=%v)", v.Path(), v.Trainable)
					}
				}
			}
		})
	}
}

// TestLoRADropoutOnlyInTraining: lora_dropout drops the adapter's input in
// training graphs only, and nothing else: with dropout 0, or with B = 0 (the
// adapter adds nothing), training and inference graphs give the same
// states. A qwen2 has no dropout of its own, so any difference is the
// adapter's.
func TestLoRADropoutOnlyInTraining(t *testing.T) {
	ids := tensors.FromValue([][]int32{{5, 6, 7, 8, 9, 10}, {11, 12, 13, 0, 0, 0}})
	mask := tensors.FromValue([][]int32{{1, 1, 1, 1, 1, 1}, {1, 1, 1, 0, 0, 0}})
	for _, tc := range []struct {
		name     string
		dropout  float64
		zeroB    bool
		wantDiff bool
	}{
		{"dropout 0.5 changes the adapter's output", 0.5, false, true},
		{"dropout 0 is a no-op", 0, false, false},
		{"dropout leaves the base path alone", 0.5, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newSmall(t, "qwen2", 3)
			if err := m.EnableLoRA(LoRA{Rank: 4, Alpha: 8, Dropout: tc.dropout, Targets: []string{"q_proj", "up_proj", "down_proj"}}, 1); err != nil {
				t.Fatal(err)
			}
			if !tc.zeroB {
				setLoRAB(m, func(i int) float32 { return float32(math.Cos(float64(i)*0.29)) * 0.2 })
			}
			states := func(training bool) []float32 {
				out, err := gmodel.ExecOnce(backend.MustGet(), m.Store, func(scope *gmodel.Scope, ids, mask *graph.Node) *graph.Node {
					scope.Store().SetTraining(ids.Graph(), training)
					return m.HiddenStates(scope, ids, mask)
				}, ids, mask)
				if err != nil {
					t.Fatal(err)
				}
				return tensors.MustCopyFlatData[float32](out)
			}
			infer, train := states(false), states(true)
			maxDiff := 0.0
			for i := range infer {
				maxDiff = math.Max(maxDiff, math.Abs(float64(train[i]-infer[i])))
			}
			if (maxDiff > 1e-4) != tc.wantDiff || (!tc.wantDiff && maxDiff != 0) {
				t.Fatalf("max |training - inference| = %g, want a difference: %v", maxDiff, tc.wantDiff)
			}
			t.Logf("max |training - inference| = %g", maxDiff)
		})
	}
}

// TestLoRATrainsOnlyAdapters: the gradient graph the trainer builds
// (BuildTrainableVariablesGradientsGraph) covers exactly the adapters, and
// lora_B, zero at the start, gets a non-zero gradient.
func TestLoRATrainsOnlyAdapters(t *testing.T) {
	m := newSmall(t, "qwen2", 2)
	if err := m.EnableLoRA(LoRA{Rank: 2, Alpha: 4, Dropout: 0.1, Targets: []string{"q_proj", "v_proj"}}, 1); err != nil {
		t.Fatal(err)
	}
	var names []string
	outs, err := gmodel.ExecOnceN(backend.MustGet(), m.Store, func(scope *gmodel.Scope, ids, mask *graph.Node) []*graph.Node {
		scope.Store().SetTraining(ids.Graph(), true)
		e := m.Embed(scope, ids, mask)
		loss := graph.ReduceAllSum(graph.Mul(e, graph.Sin(graph.IotaFull(ids.Graph(), e.Shape()))))
		grads := scope.BuildTrainableVariablesGradientsGraph(loss)
		for v := range scope.IterVariables() {
			if v.Trainable && v.InUseByGraph(ids.Graph()) {
				names = append(names, v.Path())
			}
		}
		return grads
	}, tensors.FromValue([][]int32{{5, 6, 7, 8}, {9, 10, 0, 0}}), tensors.FromValue([][]int32{{1, 1, 1, 1}, {1, 1, 0, 0}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 8 { // 2 layers x 2 targets x (A, B)
		t.Fatalf("trainable variables in the graph: %v", names)
	}
	for i, n := range names {
		if !strings.Contains(n, "/lora_") {
			t.Fatalf("%s is trainable", n)
		}
		if strings.HasSuffix(n, "lora_B/weight") {
			nonzero := false
			for _, v := range tensors.MustCopyFlatData[float32](outs[i]) {
				nonzero = nonzero || v != 0
			}
			if !nonzero {
				t.Fatalf("%s has a zero gradient", n)
			}
		}
	}
}

// setLoRAB fills every adapter's B matrix with f(index), as training would
// move it off its zero initialisation.
func setLoRAB(m *Model, f func(i int) float32) {
	for v := range m.Store.IterVariables() {
		if strings.HasSuffix(v.Path(), "lora_B/weight") {
			s := v.Shape().Dimensions
			data := make([]float32, s[0]*s[1])
			for i := range data {
				data[i] = f(i)
			}
			v.MustSetValue(tensors.FromFlatDataAndDimensions(data, s...))
		}
	}
}
