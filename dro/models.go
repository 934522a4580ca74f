package dro

import (
	"context"
	"fmt"
	"slices"

	"github.com/tdro/tdro/model"
	"github.com/tdro/tdro/train"
)

// Run is stage 1 of the pipeline: it learns the domain weights of
// cfg.Mixture with a proxy initialised from cfg.Base and the frozen
// reference cfg.Reference, and writes under cfg.Out the checkpoint, the
// log, the weights files under the official names (weights/curr_weights.json,
// mean_weights.json, ema_weights.json, top20_weights.json ...
// top90_weights.json) and the plots. With resume it continues from
// the checkpoint in cfg.Out, ending where an uninterrupted run ends.
// Cancelling ctx saves a checkpoint and returns an error wrapping
// train.ErrInterrupted.
func Run(ctx context.Context, cfg Config, resume bool) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	domains, err := train.LoadDomains(cfg.Mixture, nil)
	if err != nil {
		return nil, err
	}
	if err := checkDomains(domains); err != nil { // before the models load
		return nil, err
	}
	ref, err := model.Load(cfg.Reference)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	if cfg.Temperature, err = ScoringTemperature(cfg); err != nil {
		return nil, err
	}
	tok := cfg.Tokenizer
	if tok == "" && slices.Contains(model.PresetNames, cfg.Base) {
		tok = cfg.Reference // the checkpoint directory holds tokenizer.json
	}
	proxy, err := train.BuildModel(cfg.Base, tok, nil, int64(cfg.Seed))
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", cfg.Base, err)
	}
	if pv, rv := proxy.Tokenizer.VocabSize(), ref.Tokenizer.VocabSize(); pv != rv {
		return nil, fmt.Errorf("base %s and reference %s tokenize differently (vocabularies of %d and %d tokens)", cfg.Base, cfg.Reference, pv, rv)
	}
	if err := proxy.Store.SetRNGStateFromSeed(int64(cfg.Seed)); err != nil {
		return nil, err
	}
	encode := func(b train.Batch) (*train.Inputs, error) {
		return train.TokenizeBatch(proxy.Tokenizer, &b, cfg.QueryMaxLen, cfg.PassageMaxLen), nil
	}
	return run(ctx, cfg, domains, models{proxy: proxy, proxyStore: proxy.Store, ref: ref, refStore: ref.Store, encode: encode}, resume)
}

// ScoringTemperature is the temperature proxy and reference are scored at:
// cfg's when set, otherwise the one the reference was trained at (its
// train.RecipeFile). A reference without one (a checkpoint tdro did not
// train) needs the temperature set.
func ScoringTemperature(cfg Config) (float64, error) {
	if cfg.Temperature != 0 {
		return cfg.Temperature, nil
	}
	loss, ok, err := train.TrainedLoss(cfg.Reference)
	if err != nil {
		return 0, fmt.Errorf("reference: %w", err)
	}
	if !ok {
		return 0, fmt.Errorf("config field temperature: not set, and the reference %s does not say what it was trained at (no %s); "+
			"set it to the reference's training temperature (the official recipe: 0.002)", cfg.Reference, train.RecipeFile)
	}
	return loss.Temperature, nil
}
