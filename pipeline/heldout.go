package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/eval"
	"github.com/tdro/tdro/eval/metrics"
	"github.com/tdro/tdro/internal/atomicfile"
	"github.com/tdro/tdro/prepare"
	"github.com/tdro/tdro/study"
)

// heldOutDir holds prepare's held-out records, one file per domain, never
// trained on (prepare.heldout_per_domain).
var heldOutDir = filepath.Join(dataDir, "heldout")

// heldOutFile is a model's in-domain score on them.
func heldOutFile(name string) string { return filepath.Join(evalDir(name), "heldout.json") }

// holdOut moves n seeded records of every domain of mix into devDir (one
// records file per domain, sorted by query id) and writes the rest to
// trainDir, pointing mix at them; field names the setting in errors.
func holdOut(mix *data.Mixture, n int, seed uint64, trainDir, devDir, field string) error {
	trainDir, err := filepath.Abs(trainDir) // a mixture's relative paths are relative to it
	if err != nil {
		return err
	}
	for _, dir := range []string{trainDir, devDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	for j, d := range mix.Domains {
		recs, err := data.ReadRecords(d.Path)
		if err != nil {
			return err
		}
		if len(recs) < 2*n {
			return fmt.Errorf("domain %s has %d records: holding out %s = %d leaves fewer to train on than to score", d.Name, len(recs), field, n)
		}
		dev, keep := prepare.SplitOff(recs, n, rand.New(rand.NewPCG(seed, uint64(j)+1)))
		slices.SortFunc(keep, data.ByQueryID)
		trainPath := filepath.Join(trainDir, d.Name+".jsonl")
		if err := data.WriteRecords(trainPath, keep); err != nil {
			return err
		}
		if err := data.WriteRecords(filepath.Join(devDir, d.Name+".jsonl"), dev); err != nil {
			return err
		}
		mix.Domains[j].Path, mix.Domains[j].Records = trainPath, len(keep)
	}
	return nil
}

// HeldOut is a model's in-domain retrieval on the held-out records.
type HeldOut struct {
	Mean      float64            `json:"ndcg@10"`    // mean over domains
	PerDomain map[string]float64 `json:"per_domain"` // nDCG@10
}

// heldOutScore is a model's in-domain retrieval on the held-out records in
// devDir of every domain of mix: each domain's records are a collection
// (its queries against its passages and hard negatives), scored by nDCG@10.
func heldOutScore(ctx context.Context, enc eval.TextEncoder, devDir string, mix *data.Mixture, o eval.Options) (float64, map[string]float64, error) {
	var cols []*collection.Collection
	for _, d := range mix.Domains {
		recs, err := data.ReadRecords(filepath.Join(devDir, d.Name+".jsonl"))
		if err != nil {
			return 0, nil, err
		}
		c, err := collection.FromRecords(d.Name, d.Language, d.Instruction(), recs)
		if err != nil {
			return 0, nil, err
		}
		cols = append(cols, c)
	}
	res, err := eval.Evaluate(ctx, enc, cols, o)
	if err != nil {
		return 0, nil, err
	}
	ndcg := metrics.Measure{Kind: metrics.NDCG, K: 10}
	per, sum := map[string]float64{}, 0.0
	for _, d := range res.Runs[0].Datasets {
		v, _ := d.Mean(ndcg)
		per[d.Dataset] = v
		sum += v
	}
	return sum / float64(len(cols)), per, nil
}

// heldOutStage scores one model (a trained one, or the starting model) on
// prepare's held-out records. It is its own stage, apart from the
// evaluation sets, so that a recipe can be tuned on it alone
// (tdro run --until heldout-reference) without computing their scores.
func heldOutStage(opt Options, name string) (Stage, error) {
	sc, err := scoredModel(opt, name)
	if err != nil {
		return Stage{}, err
	}
	return Stage{
		Name: "heldout-" + name, Kind: KindEval, After: append([]string{"prepare"}, sc.after...), Inputs: sc.inputs,
		Label: "held-out " + runName(name), Flow: sc.flow, Group: evalGroup,
		Config:  evalKey(opt),
		Outputs: []string{heldOutFile(name)},
		Run: func(ctx context.Context, s *Step) error {
			mix, err := data.LoadMixture(s.Path(mixtureFile))
			if err != nil {
				return err
			}
			m, _, err := sc.load(s)
			if err != nil {
				return err
			}
			var h HeldOut
			if h.Mean, h.PerDomain, err = heldOutScore(ctx, m, s.Path(heldOutDir), mix, evalOptions(opt, runName(name))); err != nil {
				return err
			}
			s.Logf("held-out in-domain nDCG@10 %.4f over %d domains", h.Mean, len(h.PerDomain))
			return atomicfile.WriteJSON(s.Path(heldOutFile(name)), h)
		},
	}, nil
}

// readHeldOut reads the held-out scores of model run in run directory dir.
func readHeldOut(dir, run string) (HeldOut, error) {
	var h HeldOut
	if found, err := readOptionalJSON(filepath.Join(dir, heldOutFile(run)), &h); err != nil || !found {
		return h, fmt.Errorf("held-out scores of %s: %v", runName(run), cmp.Or(err, os.ErrNotExist))
	}
	return h, nil
}

// heldOutTable reads every model's held-out scores (the untrained start
// last).
func heldOutTable(dir string, cfg *Config) (*HeldOutTable, error) {
	t := &HeldOutTable{PerDomain: cfg.Prepare.HeldOut}
	for _, m := range append(trainedRuns(cfg), baseRun) {
		h, err := readHeldOut(dir, m)
		if err != nil {
			return nil, err
		}
		if t.Domains == nil {
			t.Domains = slices.Sorted(maps.Keys(h.PerDomain))
		}
		row := HeldOutRow{Run: runName(m), Mean: h.Mean}
		for _, d := range t.Domains {
			row.Scores = append(row.Scores, h.PerDomain[d])
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// heldOutStudy is the study's in-domain table: per run, the held-out mean
// over seeds and its paired difference to uniform (t interval, paired
// t-test), the untrained start last.
func heldOutStudy(dir string, cfg *Config) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "## In-domain retrieval on held-out training records\n\n"+
		"nDCG@10 on %d records per training domain held out of all training (mean over domains), per run over the %d seeds; "+
		"differences to uniform paired by seed, 95%% t intervals. The split the default recipe was tuned on; the evaluation sets above were not.\n\n"+
		"| run | mean [95%%] | difference to uniform [95%%] | p |\n|---|---:|---:|---:|\n", cfg.Prepare.HeldOut, len(cfg.Seeds))
	means := func(run string) ([]float64, error) {
		var out []float64
		for _, seed := range cfg.Seeds {
			h, err := readHeldOut(filepath.Join(dir, seedDir(seed)), run)
			if err != nil {
				return nil, fmt.Errorf("seed %d: %w", seed, err)
			}
			out = append(out, h.Mean)
		}
		return out, nil
	}
	uniform, err := means(referenceRun)
	if err != nil {
		return "", err
	}
	for _, run := range append(trainedRuns(cfg), baseRun) {
		x, err := means(run)
		if err != nil {
			return "", err
		}
		iv, err := study.MeanCI(x, 0.95)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "| %s | %.4f [%.4f, %.4f] |", runName(run), iv.Mean, iv.Lo, iv.Hi)
		if run == referenceRun {
			b.WriteString(" — | — |\n")
			continue
		}
		d, err := study.PairedT(uniform, x, 0.95)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, " %+.4f [%+.4f, %+.4f] | %.2g |\n", d.Diff.Mean, d.Diff.Lo, d.Diff.Hi, d.P)
	}
	return b.String() + "\n", nil
}
