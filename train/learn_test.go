package train

import (
	"context"
	"math"
	"testing"

	"github.com/tdro/tdro/model"
)

func TestTrainLossDecreasesAndRetrievalImproves(t *testing.T) {
	mixture, held := testMixture(t, 200, 100)
	cfg := smallConfig(t, mixture)
	// A transformer from scratch sits on a plateau for its first ~40 steps
	// (one pass over the data) before the loss falls; 120 steps of 16 take
	// it clearly past it.
	cfg.Steps, cfg.BatchSize, cfg.LearningRate, cfg.WarmupSteps, cfg.CheckpointEvery = 120, 16, 5e-4, 10, 0
	untrained, err := BuildModel(cfg.Model, cfg.Tokenizer, nil, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	before := accuracyAt1(t, untrained, held)
	res, err := Run(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	after := accuracyAt1(t, res.Model, held)
	log := readLog(t, res.Log)
	if len(log) != cfg.Steps {
		t.Fatalf("log has %d lines, want %d", len(log), cfg.Steps)
	}
	mean := func(es []LogEntry) float64 {
		s := 0.0
		for _, e := range es {
			s += e.Loss
		}
		return s / float64(len(es))
	}
	first, last := mean(log[:10]), mean(log[len(log)-10:])
	t.Logf("loss: first 10 steps %.3f, last 10 %.3f; held-out Acc@1: untrained %.3f, trained %.3f; %.0f tokens/s",
		first, last, before, after, log[len(log)-1].TokensPerSec)
	if !(last < first-0.3) {
		t.Errorf("loss did not decrease: first 10 steps %.3f, last 10 %.3f", first, last)
	}
	if !(after > before+0.04) {
		t.Errorf("held-out Acc@1 did not improve: untrained %.3f, trained %.3f", before, after)
	}
	// The saved Hugging Face checkpoint loads and embeds like the trained model.
	loaded, err := model.Load(res.ModelDir)
	if err != nil {
		t.Fatal(err)
	}
	if got := accuracyAt1(t, loaded, held); math.Abs(got-after) > 1e-9 {
		t.Errorf("reloaded model Acc@1 %.3f, trained %.3f", got, after)
	}
}
