package dro

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tdro/tdro/backend"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/internal/shareddata"
	"github.com/tdro/tdro/prepare"
	"github.com/tdro/tdro/train"
)

// BenchmarkStepTinyBert times one tDRO step of the embedded default (the
// tiny-bert preset, batch 16 x (1+7) passages, query 32 / passage 64
// tokens, on the bundled mixture prepared with 100 records per domain):
// reference forward, proxy forward, alpha update, proxy backward and AdamW,
// next to a plain contrastive step (train.Trainer.Step without reweighting)
// on one batch.
func BenchmarkStepTinyBert(b *testing.B) {
	dataDir := shareddata.Dir(b, "tokenizers/all-MiniLM-L6-v2")
	tokPath := filepath.Join(dataDir, "tokenizers", "all-MiniLM-L6-v2")
	mix, _, err := prepare.Run(context.Background(), prepare.Options{DataDir: dataDir, OutDir: b.TempDir(), MaxPerDomain: 100, SkipBad: true})
	if err != nil {
		b.Fatal(err)
	}
	var doms []train.Domain
	var names []string
	for _, d := range mix.Domains {
		names = append(names, d.Name)
		recs, err := data.IndexRecords(d.Path)
		if err != nil {
			b.Fatal(err)
		}
		doms = append(doms, train.Domain{Domain: d, Records: recs})
	}
	k := len(doms)
	cfg := DefaultConfig()
	be := backend.MustGet()
	proxy, err := train.BuildModel("tiny-bert", tokPath, nil, 1)
	if err != nil {
		b.Fatal(err)
	}
	ref, err := train.BuildModel("tiny-bert", tokPath, nil, 2)
	if err != nil {
		b.Fatal(err)
	}
	sampler, err := train.NewSampler(doms, train.SamplerConfig{BatchSize: cfg.BatchSize, Negatives: cfg.Negatives, Mixed: true, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	tr, err := train.NewTrainer(be, proxy.Store, proxy, train.StepConfig{Loss: cfg.LossConfig, Optimizer: cfg.OptimizerConfig})
	if err != nil {
		b.Fatal(err)
	}
	sc, err := train.NewScorer(be, ref.Store, ref, cfg.LossConfig)
	if err != nil {
		b.Fatal(err)
	}
	learner, _ := NewLearner(k, cfg.UpdateConfig)
	encode := func(bt train.Batch) (*train.Inputs, error) {
		return train.TokenizeBatch(proxy.Tokenizer, &bt, cfg.QueryMaxLen, cfg.PassageMaxLen), nil
	}
	loop := &Stepper{Names: names, Learner: learner, Sampler: sampler, Proxy: tr, Ref: sc, Encode: encode, Optim: cfg.OptimizerConfig, Steps: 1000}
	for i := range 2 { // compile
		if _, err := loop.Step(i); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("tdro", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := loop.Step(i); err != nil {
				b.Fatal(err)
			}
		}
	})
	bt, err := sampler.Next()
	if err != nil {
		b.Fatal(err)
	}
	in, _ := encode(bt)
	b.Run("contrastive", func(b *testing.B) {
		tr.Step(in, 1e-4, nil, nil)
		for b.Loop() {
			if _, err := tr.Step(in, 1e-4, nil, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
