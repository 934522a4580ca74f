package model

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestStaticEmbedsTheMeanOfItsTokens checks the static model against the
// embedding computed by hand: the mean of the table's rows for the text's
// tokens (no [CLS]/[SEP], like StaticEmbedding), L2-normalized.
func TestStaticEmbedsTheMeanOfItsTokens(t *testing.T) {
	m := newStatic(t, 3)
	tok, cfg := m.Tokenizer, m.Config
	texts := []string{"a static embedding averages its tokens", "short", "", strings.Repeat("long text ", 40)}
	const maxLen = 24
	got, err := m.Encode(texts, maxLen, 2)
	if err != nil {
		t.Fatal(err)
	}
	table, err := m.mergedWeight(staticEmbedding)
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.HiddenSize
	for i, text := range texts {
		ids := tok.Tokens(text)
		ids = ids[:min(len(ids), maxLen)]
		if enc := tok.Encode(text, maxLen); !slices.Equal(enc, ids) {
			t.Fatalf("text %d encodes as %v, want its tokens alone %v", i, enc, ids)
		}
		want := make([]float64, d)
		for _, id := range ids {
			for k := range d {
				want[k] += float64(table.data[int(id)*d+k]) / float64(len(ids))
			}
		}
		var norm float64
		for _, v := range want {
			norm += v * v
		}
		if norm = math.Sqrt(norm); norm == 0 {
			norm = 1 // the empty text embeds as zeros
		}
		for k := range d {
			if diff := math.Abs(float64(got[i][k]) - want[k]/norm); diff > 1e-5 {
				t.Fatalf("text %d, dim %d: got %g, want %g", i, k, got[i][k], want[k]/norm)
			}
		}
	}
}

// TestStaticCheckpointIsStaticEmbeddingLayout checks what Save writes for a
// static model: modules.json names StaticEmbedding reading the directory
// (model.safetensors with embedding.weight, tokenizer.json) and Normalize, no
// Pooling module; Load reads it back to the same embeddings.
func TestStaticCheckpointIsStaticEmbeddingLayout(t *testing.T) {
	m := newStatic(t, 5)
	dir := filepath.Join(t.TempDir(), "static")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, modulesFile))
	if err != nil {
		t.Fatal(err)
	}
	var mods []stModule
	if err := json.Unmarshal(b, &mods); err != nil {
		t.Fatal(err)
	}
	want := []stModule{{0, "0", "", "sentence_transformers.models.StaticEmbedding"}, {1, "1", "1_Normalize", "sentence_transformers.models.Normalize"}}
	if !slices.Equal(mods, want) {
		t.Fatalf("modules.json = %+v, want %+v", mods, want)
	}
	for _, f := range []string{poolingDir, stConfigFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s written for a static model", f)
		}
	}
	_, names, err := readWeights(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"embedding.weight"}) {
		t.Fatalf("model.safetensors holds %v, want embedding.weight alone", names)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Tokenizer.NoSpecialTokens || back.Config.Pooling != PoolMean || !back.Config.Normalize {
		t.Fatalf("loaded static model: %+v, tokenizer without special tokens %v", back.Config, back.Tokenizer.NoSpecialTokens)
	}
	sameEmbeddings(t, m, back)
}

// newStatic is the static preset over MiniLM's vocabulary, seeded.
func newStatic(t *testing.T, seed uint64) *Model {
	t.Helper()
	tok := loadTokenizer(t, "all-MiniLM-L6-v2")
	cfg, err := Preset("static", tok.VocabSize())
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, tok, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStaticPoolsByTheMean(t *testing.T) {
	c := &Config{ModelType: "static", VocabSize: 8, HiddenSize: 4, Pooling: PoolCLS}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "mean") {
		t.Fatalf("cls pooling on a static model: %v, want an error", err)
	}
}
