package pipeline

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/dro"
)

func regmixOptions(t testing.TB, dir string) Options {
	opt := tinyOptions(t, dir)
	opt.Config.RegMix = &RegMixConfig{Runs: 4, Steps: 2, HeldOut: 4, Candidates: 2000, Top: 20}
	if err := opt.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	return opt
}

// TestRegMixStageOne runs the tiny pipeline with RegMix as stage 1: the
// held-out split is disjoint from what the proxies train on, every proxy
// run is scored on it, the fit's answer is the weights transfer reads, the
// report names RegMix, the proxies go to Slurm as one job array, and a
// rerun skips everything.
func TestRegMixStageOne(t *testing.T) {
	dir := t.TempDir()
	opt := regmixOptions(t, dir)
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
		held := map[string]bool{}
		for _, r := range dev {
			held[r.QueryID] = true
		}
		for _, r := range kept {
			if held[r.QueryID] {
				t.Errorf("%s: %s is both held out and trained on", d.Name, r.QueryID)
			}
		}
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
	curr, err := dro.LoadWeights(filepath.Join(dir, droDir, weightsFile("curr")))
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range fit.Weights {
		if curr.DomainWeights[name] != w {
			t.Errorf("%s: weights file %v, fit %v", name, curr.DomainWeights[name], w)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, mixturePath("top70"))); err != nil {
		t.Error(err)
	}
	report, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil || !strings.Contains(string(report), "Learned domain weights (stage 1, RegMix)") || !strings.Contains(string(report), "RegMix proxy runs (4)") {
		t.Errorf("the report does not name RegMix and its proxy runs (%v)", err)
	}
	stages := mustStages(t, opt)
	for _, g := range groupJobs(ExecutorConfig{}, stages, func(*Stage) bool { return false }, nil) {
		if g.stages[0].Kind == KindProxy && len(g.stages) != 4 {
			t.Errorf("the proxy runs go as %d-task jobs, want one array of 4", len(g.stages))
		}
	}
	again, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range again {
		if r.Status != Skipped {
			t.Errorf("second invocation: %s %s", r.Stage, r.Status)
		}
	}
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
