package pipeline

import (
	"context"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/prepare"
	"github.com/tdro/tdro/remine"
)

// The dense re-mining of prepare.remine: the retriever that mines, the
// stage and where its mixture goes.
const (
	retrieverRun     = "retriever"
	mineStageName    = "mine"
	minedDir         = "mined"
	minedMixtureFile = "mined/mixture.json"
)

// remineStages are prepare.remine's two stages: the retriever, trained
// with the train recipe on prepare's uniform mixture (BM25 negatives), and
// the re-mining of every domain with it, ranks [2, 100) of an exact search
// over the domain's passages (prepare.PaperWindow), seeded by the run.
func remineStages(opt Options) ([]Stage, error) {
	cfg := opt.Config
	retriever, err := trainStage(opt, retrieverRun, mixtureFile, cfg.Train, "prepare")
	if err != nil {
		return nil, err
	}
	r := *cfg.Prepare.Remine
	mo := prepare.MineOptions{Negatives: r.negatives(cfg.Prepare), Seed: cfg.Seed, Replace: !r.KeepOwn}
	q, p, batch := cfg.Train.QueryMaxLen, cfg.Train.PassageMaxLen, cfg.Eval.BatchSize
	mine := Stage{
		Name: mineStageName, Kind: KindEval, After: []string{"prepare", retriever.Name}, Label: "re-mine negatives",
		Flow: []string{retriever.Name},
		Config: struct {
			Mine                              prepare.MineOptions
			QueryMaxLen, PassageMaxLen, Batch int
		}{mo, q, p, batch},
		Outputs: []string{minedDir},
		Check:   checkMixture(minedMixtureFile),
		Run: func(ctx context.Context, s *Step) error {
			mix, err := data.LoadMixture(s.Path(mixtureFile))
			if err != nil {
				return err
			}
			_, rep, err := remine.WithModel(ctx, mix, remine.Options{
				Model: s.Path(modelDir(retrieverRun)), QueryMaxLen: q, PassageMaxLen: p, BatchSize: batch,
				OutDir: s.Path(minedDir), Mine: mo,
			})
			if err != nil {
				return err
			}
			return rep.WriteTable(s.Log())
		},
	}
	return []Stage{retriever, mine}, nil
}
