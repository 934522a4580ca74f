package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tdro/tdro/dro"
	"github.com/tdro/tdro/eval/metrics"
	evalreport "github.com/tdro/tdro/eval/report"
	"github.com/tdro/tdro/study"
)

var studySeeds = []uint64{1, 2}

// studyOptions is the tiny preset replicated over two seeds, with the
// size-based baselines and the bottom-k control next to the learned mixtures.
func studyOptions(t testing.TB, dir string) Options {
	opt := tinyOptions(t, dir)
	opt.Config.Seeds = studySeeds
	opt.Config.Transfer = append(opt.Config.Transfer,
		TransferConfig{Name: "bottom50", Strategy: dro.BottomK, Percent: 50},
		TransferConfig{Name: "proportional", Strategy: dro.Proportional},
		TransferConfig{Name: "temp2", Strategy: dro.Temperature, Temperature: 2},
		TransferConfig{Name: "odm", Strategy: StrategyODM, ODMRewardScale: 10})
	opt.Config.Learners = []string{LearnerTDRO, LearnerDoReMi, LearnerRegMix, LearnerODM}
	opt.Config.Prepare.HeldOut = 4
	rc := tinyRegMix
	opt.Config.RegMix = &rc
	if err := opt.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	return opt
}

var studyRun sharedRun // removed by TestMain

func uninterruptedStudy(t *testing.T) (string, []Result) { return studyRun.get(t, studyOptions) }

// TestStudyTwoSeeds runs a 2-seed tiny study end to end: every seed's graph
// runs in its own directory, study.json parses and its per-seed numbers are
// the per-seed evaluation JSONs' means over sets, study.md leads with the
// verdicts, and a second invocation skips every stage.
func TestStudyTwoSeeds(t *testing.T) {
	if os.Getenv("TDRO_PIPELINE_RUN") != "" {
		return
	}
	dir, res := uninterruptedStudy(t)
	if len(res) == 0 || res[len(res)-1].Stage != "study" {
		t.Fatalf("last stage %v, want study", res[len(res)-1].Stage)
	}
	var rep study.Report
	b, err := os.ReadFile(filepath.Join(dir, "study.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Seeds) != 2 || rep.Baseline.Run != "uniform" {
		t.Fatalf("seeds %v, baseline %q", rep.Seeds, rep.Baseline.Run)
	}
	ndcg := metrics.Measure{Kind: metrics.NDCG, K: 10}
	rows := append([]study.Row{rep.Baseline}, rep.Runs...)
	seen := map[string]bool{}
	for _, row := range rows {
		seen[row.Run] = true
		for si, seed := range studySeeds {
			run := row.Run
			if run == "uniform" {
				run = referenceRun
			}
			r, err := evalreport.ReadJSON(filepath.Join(dir, seedDir(seed), evalDir(run), "json"))
			if err != nil {
				t.Fatal(err)
			}
			sum := 0.0
			for _, d := range r.Runs[0].Datasets {
				v, _ := d.Mean(ndcg)
				sum += v
			}
			if want := sum / float64(len(r.Runs[0].Datasets)); math.Abs(row.PerSeed[si]-want) > 1e-12 {
				t.Errorf("%s seed %d: study says %v, the eval JSON %v", row.Run, seed, row.PerSeed[si], want)
			}
		}
		if row.Run != "uniform" {
			d := row.PerSeed[0] - rows[0].PerSeed[0] + row.PerSeed[1] - rows[0].PerSeed[1]
			if math.Abs(row.Diff.Diff.Mean-d/2) > 1e-12 || !strings.HasPrefix(row.Verdict, row.Run+" vs uniform: ") {
				t.Errorf("%s: difference %v, want %v; verdict %q", row.Run, row.Diff.Diff.Mean, d/2, row.Verdict)
			}
		}
	}
	for _, want := range []string{"uniform", "top70", "ratio", "bottom50", "proportional", "temp2", "odm", "base", "bm25",
		"doremi-top70", "doremi-ratio", "doremi-bottom50", "regmix-top70", "regmix-ratio", "regmix-bottom50"} {
		if !seen[want] {
			t.Errorf("study has no row for %s", want)
		}
	}
	if len(rep.PerSet) != len(rep.Runs)*len(rep.Sets) || len(rep.Learned) != 3 || len(rep.Learned[0].Weights) == 0 || math.IsNaN(rep.Learned[0].RankCorrelation) {
		t.Errorf("%d per-set rows for %d runs x %d sets; learners %+v",
			len(rep.PerSet), len(rep.Runs), len(rep.Sets), rep.Learned)
	}
	md, err := os.ReadFile(filepath.Join(dir, "study.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- top70 vs uniform: ", "| proportional |", "rank correlation between seeds", "## Cost", "| train-reference | 2 |", "| RegMix | 12 |", "| ODM | 2 |", "| regmix proxies | 8 |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("study.md lacks %q", want)
		}
	}
	// The held-out table's uniform row is the seeds' heldout.json means.
	held := 0.0
	for _, seed := range studySeeds {
		var h HeldOut
		if found, err := readOptionalJSON(filepath.Join(dir, seedDir(seed), heldOutFile(referenceRun)), &h); err != nil || !found {
			t.Fatalf("seed %d: no held-out score (%v)", seed, err)
		}
		held += h.Mean / float64(len(studySeeds))
	}
	if want := fmt.Sprintf("| uniform | %.4f [", held); !strings.Contains(string(md), "## In-domain retrieval on held-out training records") || !strings.Contains(string(md), want) {
		t.Errorf("study.md lacks the held-out table or its row %q", want)
	}
	page, err := os.ReadFile(filepath.Join(dir, "study.html"))
	if err != nil || !strings.Contains(string(page), "<li>"+rep.Runs[0].Run+" vs uniform: ") || !strings.Contains(string(page), "differences.svg") {
		t.Errorf("study.html lacks the first verdict or the figure (%v)", err)
	}
	for _, f := range []string{"differences.svg", "differences.png"} {
		if fi, err := os.Stat(filepath.Join(dir, studyPlots, f)); err != nil || fi.Size() < 1000 {
			t.Errorf("figure %s: %v", f, err)
		}
	}
	for _, seed := range studySeeds {
		if b, err := os.ReadFile(filepath.Join(dir, seedDir(seed), odmLog("odm"))); err != nil || strings.Count(string(b), "\n") != studyOptions(t, dir).Config.Train.Steps {
			t.Errorf("seed %d: the online-mixing trajectory has no line per step (%v)", seed, err)
		}
		if _, err := os.Stat(filepath.Join(dir, seedDir(seed), "report.md")); err != nil {
			t.Errorf("seed %d has no report: %v", seed, err)
		}
	}
	rerunSkipsAll(t, studyOptions(t, dir))
}

// TestStudySIGKILLInSecondSeed kills a study while the second seed's
// reference trains; rerunning resumes it and ends byte-identical to the
// uninterrupted study.
func TestStudySIGKILLInSecondSeed(t *testing.T) {
	if os.Getenv("TDRO_PIPELINE_RUN") != "" {
		return
	}
	refDir, _ := uninterruptedStudy(t)
	stage := seedDir(2) + ".train-" + referenceRun
	ckpt := filepath.Join(seedDir(2), checkpointDir(referenceRun), "checkpoint.bin")
	dir := killDuring(t, stage, ckpt, 4*time.Minute, "TDRO_PIPELINE_STUDY=1")
	res, err := Run(context.Background(), studyOptions(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]Status{}
	for _, r := range res {
		status[r.Stage] = r.Status
	}
	if status[stage] != Resumed || status[seedDir(1)+".report"] != Skipped {
		t.Errorf("after the kill: %s %s (want resumed), seed 1's report %s (want skipped)", stage, status[stage], status[seedDir(1)+".report"])
	}
	for _, rel := range []string{"study.json",
		filepath.Join(seedDir(2), modelDir(referenceRun), "model.safetensors"),
		filepath.Join(seedDir(2), modelDir("top70"), "model.safetensors"),
		filepath.Join(seedDir(2), droDir, dro.WeightsDir),
		filepath.Join(seedDir(2), evalDir("proportional"), "runs")} {
		a, errA := HashPath(filepath.Join(refDir, rel))
		b, errB := HashPath(filepath.Join(dir, rel))
		if errA != nil || errB != nil || a != b {
			t.Errorf("%s differs from the uninterrupted study (%v %v)", rel, errA, errB)
		}
	}
}
