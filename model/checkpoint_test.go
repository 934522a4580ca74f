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
	if c.Family() == Decoder {
		c.NumKVHeads = 2
		c.TieEmbeddings = true
	}
	c.Normalize = true
	return c
}

func newSmall(t testing.TB, modelType string, seed int64) *Model {
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
			// Embeddings agree too.
			texts := []string{"a short query", "a passage about something else entirely"}
			e1, err := m.Encode(texts, 32, 2)
			if err != nil {
				t.Fatal(err)
			}
			e2, err := back.Encode(texts, 32, 2)
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
		})
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

// TestLoRAMergeEqualsBasePlusBA: the saved weight is W + (alpha/r)·B·A, only
// adapters are trainable, and the merged model embeds like the adapted one.
func TestLoRAMergeEqualsBasePlusBA(t *testing.T) {
	for _, typ := range []string{"bert", "qwen2"} {
		t.Run(typ, func(t *testing.T) {
			m := newSmall(t, typ, 5)
			if err := m.EnableLoRA(LoRA{Rank: 4, Alpha: 8, Targets: []string{"q_proj", "v_proj", "up_proj", "down_proj", "o_proj", "k_proj"}}, 9); err != nil {
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
			if trainable != 2*6*2 {
				t.Fatalf("%d adapter tensors, want 24", trainable)
			}
			// Give B non-zero values, as training would.
			for v := range m.Store.IterVariables() {
				if strings.HasSuffix(v.Path(), "lora_B/weight") {
					s := v.Shape().Dimensions
					data := make([]float32, s[0]*s[1])
					for i := range data {
						data[i] = float32(math.Sin(float64(i)*0.37)) * 0.05
					}
					v.MustSetValue(tensors.FromFlatDataAndDimensions(data, s...))
				}
			}
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
			p := map[string]string{"bert": "encoder.layer.1.attention.self.value", "qwen2": "layers.1.self_attn.v_proj"}[typ]
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
						t.Fatalf("merged[%d,%d] = %g, want W+(alpha/r)BA = %g", o, i, merged.data[o*in+i], exp)
					}
				}
			}
			if back.Var(p+".lora_A.weight") != nil {
				t.Fatal("saved checkpoint still has adapters")
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
