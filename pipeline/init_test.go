package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tdro/tdro/eval"
	"github.com/tdro/tdro/model"
	"github.com/tdro/tdro/tokenize"
)

// TestDecoderCheckpointThroughThePipeline runs the tiny pipeline from a
// user's Hugging Face checkpoint (--init) of the decoder family: a Qwen2
// with the Qwen3 byte-level BPE tokenizer, last-token pooling with EOS. Every
// stage runs from it, and every trained model comes back as a Qwen2
// checkpoint that differs from the start and evaluates.
func TestDecoderCheckpointThroughThePipeline(t *testing.T) {
	opt := tinyOptions(t, filepath.Join(t.TempDir(), "run"))
	tok, err := tokenize.Load(filepath.Join(opt.Data, "tokenizers", "qwen3"))
	if err != nil {
		t.Fatal(err)
	}
	mc, err := model.Preset("tiny-qwen2", tok.VocabSize())
	if err != nil {
		t.Fatal(err)
	}
	mc.HiddenSize, mc.NumHeads, mc.NumKVHeads, mc.IntermediateSize = 32, 4, 2, 64 // seconds, not minutes, with a 151k vocabulary
	m, err := model.New(mc, tok, 7)
	if err != nil {
		t.Fatal(err)
	}
	init := filepath.Join(t.TempDir(), "my-qwen2")
	if err := m.Save(init); err != nil {
		t.Fatal(err)
	}
	opt.Config.Model = ModelConfig{Init: init}
	res, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range res {
		names = append(names, r.Stage)
	}
	if got := strings.Join(names, " "); slices.Contains(names, "base") || !strings.Contains(got, "train-reference dro transfer train-top70 train-ratio") {
		t.Fatalf("stages %s: want no from-scratch base, and every training stage", got)
	}
	startKey, err := eval.DirKey(init)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range []string{referenceRun, "top70", "ratio"} {
		dir := filepath.Join(opt.Out, modelDir(run))
		got, err := model.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got.Config.ModelType != "qwen2" || got.Config.Pooling != model.PoolLast || got.Tokenizer.EOSID() < 0 {
			t.Errorf("%s: %s model, pooling %s, EOS %d; want the qwen2 it started from, last-token pooling, an EOS", run, got.Config.ModelType, got.Config.Pooling, got.Tokenizer.EOSID())
		}
		if key, _ := eval.DirKey(dir); key == startKey {
			t.Errorf("%s: weights identical to the starting checkpoint: nothing was trained", run)
		}
		for _, set := range opt.Config.Eval.Sets {
			if _, err := os.Stat(filepath.Join(opt.Out, evalDir(run), "runs", set, runName(run)+".trec")); err != nil {
				t.Errorf("%s: no run file for %s: %v", run, set, err)
			}
		}
	}
	report, err := os.ReadFile(filepath.Join(opt.Out, "report.md"))
	if err != nil || !strings.Contains(string(report), init) {
		t.Errorf("report.md does not name the starting checkpoint %s (%v)", init, err)
	}
}
