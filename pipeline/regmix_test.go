package pipeline

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/dro"
)

// tinyRegMix are RegMix settings that fit the tiny preset.
var tinyRegMix = RegMixConfig{Runs: 4, Steps: 2, HeldOut: 4, Candidates: 2000, Top: 20}

func regmixOptions(t testing.TB, dir string) Options {
	opt := tinyOptions(t, dir)
	rc := tinyRegMix
	opt.Config.RegMix = &rc
	opt.Config.Transfer = append(opt.Config.Transfer, TransferConfig{Name: "regmix-top70", Strategy: dro.TopK, Percent: 70, Learner: LearnerRegMix})
	if err := opt.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	return opt
}

// TestRegMixLearner runs the tiny pipeline with a transfer entry from
// RegMix's weights: the held-out split is disjoint from what the proxies
// train on, every proxy run is scored on it, the fit's answer is the
// weights that entry's mixture is made from, the report describes RegMix,
// the proxies go to Slurm as one job array, and a rerun skips everything.
// The run directory is relative (the mixture files' paths must not be).
func TestRegMixLearner(t *testing.T) {
	dir := "run" // relative, as a user's --out usually is
	opt := regmixOptions(t, dir)
	if !filepath.IsAbs(opt.Data) {
		t.Fatalf("data directory %s is relative", opt.Data)
	}
	t.Chdir(t.TempDir())
	if _, err := Run(context.Background(), opt); err != nil {
		t.Fatal(err)
	}
	mix, err := data.LoadMixture(filepath.Join(dir, mixtureFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range mix.Domains {
		dev, err := data.ReadRecords(filepath.Join(dir, splitDir, "dev", d.Name+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		kept, err := data.ReadRecords(filepath.Join(dir, splitDir, "train", d.Name+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if len(dev) != 4 || len(kept) != d.Records-4 {
			t.Errorf("%s: %d held out and %d kept of %d", d.Name, len(dev), len(kept), d.Records)
		}
		checkDisjoint(t, d.Name, dev, kept)
	}
	var fit Fit
	b, err := os.ReadFile(filepath.Join(dir, fitFile))
	if err == nil {
		err = json.Unmarshal(b, &fit)
	}
	if err != nil {
		t.Fatal(err)
	}
	seen := map[float64]bool{}
	for _, r := range fit.Runs {
		sum := 0.0
		for _, w := range r.Weights {
			sum += w
		}
		if math.Abs(sum-1) > 1e-9 || r.Score <= 0 || r.Score > 1 || len(r.PerDomain) != len(mix.Domains) || seen[r.Weights["sick"]] {
			t.Errorf("proxy run %d: weights sum %v, score %v, %d domains scored; a mixture repeated: %v", r.Run, sum, r.Score, len(r.PerDomain), seen[r.Weights["sick"]])
		}
		seen[r.Weights["sick"]] = true
	}
	if len(fit.Runs) != 4 {
		t.Fatalf("%d proxy runs in the fit, want 4", len(fit.Runs))
	}
	curr, err := dro.LoadWeights(filepath.Join(dir, opt.Config.learnerWeights(LearnerRegMix)))
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range fit.Weights {
		if curr.DomainWeights[name] != w {
			t.Errorf("%s: weights file %v, fit %v", name, curr.DomainWeights[name], w)
		}
	}
	top, err := data.LoadMixture(filepath.Join(dir, mixturePath("regmix-top70")))
	if err != nil {
		t.Fatal(err)
	}
	sel, err := dro.TopPercent(curr.Weights(), 70)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, i := range sel {
		want = append(want, curr.Names()[i])
	}
	for _, d := range top.Domains {
		got = append(got, d.Name)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("regmix-top70 holds %v, want RegMix's top 70%% %v", got, want)
	}
	report, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil || !strings.Contains(string(report), "RegMix weights (dro-regmix)") || !strings.Contains(string(report), "RegMix proxy runs (4)") {
		t.Errorf("the report does not describe RegMix and its proxy runs (%v)", err)
	}
	stages := mustStages(t, opt)
	for _, g := range groupJobs(ExecutorConfig{}, stages, func(*Stage) bool { return false }, nil) {
		if g.stages[0].Kind == KindProxy && len(g.stages) != 4 {
			t.Errorf("the proxy runs go as %d-task jobs, want one array of 4", len(g.stages))
		}
	}
	rerunSkipsAll(t, opt)
}

func TestRegMixConfigProblems(t *testing.T) {
	for _, tc := range []struct {
		rc   RegMixConfig
		want string
	}{
		{RegMixConfig{}, ""},
		{RegMixConfig{Runs: 1}, "at least 2 proxy runs"},
		{RegMixConfig{Steps: -1}, "regmix.steps: must be >= 0"},
		{RegMixConfig{Regressor: "lightgbm"}, `regmix.regressor: unknown "lightgbm"`},
		{RegMixConfig{Alpha: -1}, "regmix.alpha"},
	} {
		got := strings.Join(tc.rc.problems(), "; ")
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%+v: %q, want %q", tc.rc, got, tc.want)
		}
	}
}
