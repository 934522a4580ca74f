// Package remine re-mines a mixture's hard negatives with a trained dense
// retriever: the paper's second pass over the training data, shared by
// `tdro data mine` and the pipeline's mine stage so both read a domain the
// same way.
package remine

import (
	"cmp"
	"context"
	"fmt"

	"github.com/tdro/tdro/backend"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/eval"
	"github.com/tdro/tdro/model"
	"github.com/tdro/tdro/prepare"
	"github.com/tdro/tdro/tokenize"
	"github.com/tdro/tdro/train"
)

// Options say which model mines, at which lengths, and how.
type Options struct {
	Model string // model directory tdro wrote, or any checkpoint it loads
	// QueryMaxLen and PassageMaxLen are the token budgets (0: the lengths
	// the model was trained with, from its tdro_train.json).
	QueryMaxLen, PassageMaxLen int
	BatchSize                  int // texts per forward pass (0: eval.Encode's)
	OutDir                     string
	Mine                       prepare.MineOptions // Retriever and Label are set per domain
}

// WithModel re-mines every domain of mix with the model in opt.Model: the
// domain's first instruction before queries (and before passages of a
// symmetric domain), as the model was trained to read them. It writes
// OutDir/<domain>.jsonl and OutDir/mixture.json; see prepare.Remine.
func WithModel(ctx context.Context, mix *data.Mixture, opt Options) (*data.Mixture, prepare.RemineReport, error) {
	q, p := opt.QueryMaxLen, opt.PassageMaxLen
	if q == 0 || p == 0 {
		recipe, ok, err := train.TrainedRecipe(opt.Model)
		if err != nil {
			return nil, prepare.RemineReport{}, err
		}
		if !ok {
			return nil, prepare.RemineReport{}, fmt.Errorf("%s has no %s: give the query and passage lengths it was trained with (tdro data mine: --query-len, --passage-len)", opt.Model, train.RecipeFile)
		}
		q, p = cmp.Or(q, recipe.QueryMaxLen), cmp.Or(p, recipe.PassageMaxLen)
	}
	if _, err := backend.Get(); err != nil {
		return nil, prepare.RemineReport{}, err
	}
	m, err := model.Load(opt.Model)
	if err != nil {
		return nil, prepare.RemineReport{}, err
	}
	key, err := eval.DirKey(opt.Model)
	if err != nil {
		return nil, prepare.RemineReport{}, err
	}
	return prepare.Remine(ctx, mix, prepare.RemineOptions{
		OutDir: opt.OutDir, Mine: opt.Mine,
		RetrieverKey: fmt.Sprintf("%s q%d p%d", key, q, p),
		Retriever: func(d data.Domain) prepare.Retriever {
			instr := d.Instruction()
			return prepare.Dense{Encoder: m, QueryMaxLen: q, PassageMaxLen: p, BatchSize: opt.BatchSize,
				Query:   func(s string) string { return tokenize.Instruct(instr, s) },
				Passage: func(ps data.Passage) string { return train.PassageInput(instr, d.Symmetric, ps) }}
		},
	})
}
