package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/prepare"
	"github.com/tdro/tdro/train"
)

// PretrainConfig is the optional contrastive pre-training before stage 0:
// the starting model learns from two independent crops of each training
// passage (no labels; prepare.CropPairs), and every training of the run
// starts from its model instead of the untrained one.
type PretrainConfig struct {
	Steps        int     `json:"steps"`
	LearningRate float64 `json:"learning_rate,omitempty"` // 0: train.learning_rate
	CropMin      float64 `json:"crop_min,omitempty"`      // share of a passage's words a crop keeps at least (0: 0.1)
	CropMax      float64 `json:"crop_max,omitempty"`      // and at most (0: 0.5)
}

// crops are the cropping options of a run with seed.
func (p PretrainConfig) crops(seed uint64) prepare.CropOptions {
	return prepare.CropOptions{Seed: seed, Min: cmp.Or(p.CropMin, 0.1), Max: cmp.Or(p.CropMax, 0.5)}
}

// recipe is the train recipe with the pre-training's steps and learning
// rate, in-batch negatives only (a crop pair has no hard negative).
func (p PretrainConfig) recipe(r train.Recipe) train.Recipe {
	r = withSteps(r, p.Steps)
	r.Negatives = 0
	r.LearningRate = cmp.Or(p.LearningRate, r.LearningRate)
	r.Mixing, r.ODMRewardScale = "", 0
	return r
}

// withSteps is recipe r run for steps instead: its warm-up at most half of
// them, a checkpoint at least every steps (RegMix's proxies, the
// pre-training).
func withSteps(r train.Recipe, steps int) train.Recipe {
	r.Steps = steps
	r.WarmupSteps = min(r.WarmupSteps, steps/2)
	r.CheckpointEvery = min(max(r.CheckpointEvery, 1), max(steps, 1))
	return r
}

// problems are what is wrong with p over train recipe r.
func (p *PretrainConfig) problems(r train.Recipe) []string {
	if p == nil {
		return nil
	}
	var errs []string
	if p.Steps <= 0 || p.LearningRate < 0 {
		errs = append(errs, fmt.Sprintf("pretrain: steps must be > 0 and learning_rate >= 0, got %d and %v", p.Steps, p.LearningRate))
	}
	if err := p.crops(0).Validate("pretrain (crop_min, crop_max)"); err != nil {
		errs = append(errs, err.Error())
	}
	rc := p.recipe(r)
	if err := rc.Validate(); err != nil && p.Steps > 0 {
		errs = append(errs, "pretrain: "+strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return errs
}

const (
	pretrainedRun = "pretrained"
	cropsStage    = "crops"
	cropsDir      = "pretrain"
	cropsMixture  = "pretrain/mixture.json"
)

// pretrainStages are the crops of every prepared domain's passages (one
// domain of pairs per training domain, uniform) and the pre-training on
// them from the untrained model.
func pretrainStages(opt Options) ([]Stage, error) {
	cfg := opt.Config
	p := *cfg.Pretrain
	co := p.crops(cfg.Seed)
	crops := Stage{
		Name: cropsStage, Kind: KindPrepare, After: []string{"prepare"}, Label: "crop pairs", Flow: []string{"prepare"},
		Config:  co,
		Outputs: []string{cropsDir},
		Check:   checkMixture(cropsMixture),
		Run: func(ctx context.Context, s *Step) error {
			mix, err := data.LoadMixture(s.Path(mixtureFile))
			if err != nil {
				return err
			}
			out := &data.Mixture{}
			for _, d := range mix.Domains {
				recs, err := data.ReadRecords(d.Path)
				if err != nil {
					return err
				}
				pairs := prepare.CropPairs(recs, co)
				if len(pairs) == 0 {
					s.Logf("%s: no passage of two words or more, left out", d.Name)
					continue
				}
				path := s.Path(cropsDir, d.Name+".jsonl")
				if err := data.WriteRecords(path, pairs); err != nil {
					return err
				}
				out.Domains = append(out.Domains, data.Domain{Name: d.Name, Path: path, Language: d.Language, Weight: 1, Records: len(pairs)})
				s.Logf("%s: %d crop pairs from %d records", d.Name, len(pairs), len(recs))
			}
			if len(out.Domains) == 0 {
				return errors.New("pretrain: no domain has a passage to crop")
			}
			return out.Save(s.Path(cropsMixture))
		},
	}
	pre, err := trainStage(opt, pretrainedRun, cropsMixture, p.recipe(cfg.Train), cropsStage)
	if err != nil {
		return nil, err
	}
	return []Stage{crops, pre}, nil
}
