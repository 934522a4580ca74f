package eval

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/internal/shareddata"
	"github.com/tdro/tdro/model"
	"github.com/tdro/tdro/tokenize"
)

func tinyModel(t *testing.T, seed uint64) *model.Model {
	t.Helper()
	tok, err := tokenize.Load(filepath.Join(shareddata.Dir(t), "tokenizers", "all-MiniLM-L6-v2", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := model.Preset("tiny-bert", tok.VocabSize())
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(cfg, tok, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestModelEncoder runs a real (random-weight) model through Evaluate: the
// model satisfies TextEncoder, its StoreKey tells seeds apart, and the cache
// makes the second run skip encoding.
func TestModelEncoder(t *testing.T) {
	m := tinyModel(t, 1)
	k1, err := StoreKey(m.Store, model.Scope)
	if err != nil {
		t.Fatal(err)
	}
	k1b, _ := StoreKey(m.Store, model.Scope)
	k2, _ := StoreKey(tinyModel(t, 2).Store, model.Scope)
	if k1 != k1b || k1 == k2 {
		t.Fatalf("StoreKey: same model %v, different seeds equal %v", k1 == k1b, k1 == k2)
	}
	opts := Options{Name: "tiny", CacheDir: t.TempDir(), ModelKey: k1, MaxLen: 64, BatchSize: 4,
		CountTokens: func(texts []string) int64 { return int64(len(texts)) }}
	cols := []*collection.Collection{tinyCollection()}
	r1, err := Evaluate(context.Background(), m, cols, opts)
	if err != nil {
		t.Fatal(err)
	}
	d1 := r1.Runs[0].Datasets[0]
	if d1.Timing.Cached || d1.Timing.Tokens != 7 {
		t.Errorf("first run: cached=%v tokens=%d", d1.Timing.Cached, d1.Timing.Tokens)
	}
	r2, err := Evaluate(context.Background(), m, cols, opts)
	if err != nil {
		t.Fatal(err)
	}
	d2 := r2.Runs[0].Datasets[0]
	if !d2.Timing.Cached || d2.Timing.Tokens != 0 {
		t.Errorf("second run: cached=%v tokens=%d", d2.Timing.Cached, d2.Timing.Tokens)
	}
	for i := range d1.Scores.Mean {
		if d1.Scores.Mean[i] != d2.Scores.Mean[i] {
			t.Errorf("%v: %v then %v", d1.Scores.Measures[i], d1.Scores.Mean[i], d2.Scores.Mean[i])
		}
	}
	if dir := os.Getenv("TDRO_SAVE_TINY_MODEL"); dir != "" { // a checkpoint for trying tdro eval by hand
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
	}
}
