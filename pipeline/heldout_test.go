package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tdro/tdro/data"
)

// TestHeldOutAndVocabulary runs the tiny pipeline with a held-out split and
// a vocabulary fitted to the data, first only up to the reference's
// held-out score (--until): the held-out records are in no training file
// and not in the vocabulary's texts' count, the reference's checkpoint
// carries the run's vocabulary, and no evaluation set is touched. The full
// run then scores every model on the split and the report shows it.
func TestHeldOutAndVocabulary(t *testing.T) {
	dir := t.TempDir()
	opt := tinyOptions(t, dir)
	opt.Config.Prepare.HeldOut = 4
	opt.Config.Model.Tokenizer, opt.Config.Model.Vocabulary = "", &VocabularyConfig{Size: 400}
	if err := opt.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	opt.Until = []string{"heldout-reference"}
	ran := runStages(t, opt)
	if want := []string{"prepare", "tokenizer", "base", "train-reference", "heldout-reference"}; !slices.Equal(ran, want) {
		t.Errorf("--until heldout-reference ran %v, want %v", ran, want)
	}

	mix, err := data.LoadMixture(filepath.Join(dir, mixtureFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range mix.Domains {
		dev, kept := heldOutAndKept(t, dir, d)
		if len(dev) != 4 || len(kept) != d.Records {
			t.Errorf("%s: %d held out, %d kept, mixture says %d", d.Name, len(dev), len(kept), d.Records)
		}
		checkDisjoint(t, d.Name, dev, kept)
	}
	var h HeldOut
	if b, err := os.ReadFile(filepath.Join(dir, heldOutFile(referenceRun))); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, d := range mix.Domains {
		v, ok := h.PerDomain[d.Name]
		if !ok || v < 0 || v > 1 {
			t.Errorf("held-out nDCG@10 of %s: %v (%v)", d.Name, v, ok)
		}
		sum += v
	}
	if len(h.PerDomain) != len(mix.Domains) || h.Mean != sum/float64(len(mix.Domains)) {
		t.Errorf("held-out mean %v over %d domains, want %v over %d", h.Mean, len(h.PerDomain), sum/float64(len(mix.Domains)), len(mix.Domains))
	}
	vocab, err := os.ReadFile(filepath.Join(dir, vocabularyDir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, modelDir(referenceRun), "tokenizer.json")); err != nil || !bytes.Equal(got, vocab) {
		t.Errorf("the reference's tokenizer is not the run's vocabulary (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, evalDir(referenceRun), "json")); !os.IsNotExist(err) {
		t.Errorf("--until heldout-reference evaluated on the evaluation sets (%v)", err)
	}

	opt.Until = nil
	if _, err := Run(context.Background(), opt); err != nil {
		t.Fatal(err)
	}
	report, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range append(trainedRuns(opt.Config), baseRun) {
		if _, err := os.Stat(filepath.Join(dir, heldOutFile(run))); err != nil {
			t.Errorf("no held-out score of %s: %v", run, err)
		}
		if !strings.Contains(string(report), "| "+runName(run)+" | ") {
			t.Errorf("report.md has no held-out row for %s", runName(run))
		}
	}
	if !strings.Contains(string(report), "## In-domain retrieval on held-out training records") {
		t.Error("report.md has no held-out section")
	}

	opt.Until = []string{"no-such-stage"}
	if _, err := Run(context.Background(), opt); err == nil || !strings.Contains(err.Error(), "--until no-such-stage") {
		t.Errorf("--until an unknown stage: %v", err)
	}
}

// checkDisjoint fails for every held-out record that is also trained on.
func checkDisjoint(t *testing.T, domain string, dev, kept []data.Record) {
	t.Helper()
	held := map[string]bool{}
	for _, r := range dev {
		held[r.QueryID] = true
	}
	for _, r := range kept {
		if held[r.QueryID] {
			t.Errorf("%s: %s is both held out and trained on", domain, r.QueryID)
		}
	}
}

// TestHeldOutFromSource: with prepare.heldout_from "source" two runs that
// differ in max_records_per_domain score on the same held-out records, and
// each trains on its whole cap.
func TestHeldOutFromSource(t *testing.T) {
	held := map[int]map[string][]byte{}
	for _, max := range []int{24, 32} {
		dir := t.TempDir()
		opt := tinyOptions(t, dir)
		opt.Config.Prepare.HeldOut, opt.Config.Prepare.HeldOutFrom, opt.Config.Prepare.MaxRecords = 4, HeldOutFromSource, max
		if err := opt.Config.Validate(); err != nil {
			t.Fatal(err)
		}
		opt.Until = []string{"heldout-reference"}
		if ran := runStages(t, opt); !slices.Contains(ran, "heldout-reference") {
			t.Fatalf("ran %v", ran)
		}
		mix, err := data.LoadMixture(filepath.Join(dir, mixtureFile))
		if err != nil {
			t.Fatal(err)
		}
		held[max] = map[string][]byte{}
		for _, d := range mix.Domains {
			dev, kept := heldOutAndKept(t, dir, d)
			if len(dev) != 4 || len(kept) != max || d.Records != max {
				t.Errorf("cap %d, %s: %d held out, %d kept (mixture: %d)", max, d.Name, len(dev), len(kept), d.Records)
			}
			checkDisjoint(t, d.Name, dev, kept)
			held[max][d.Name], _ = os.ReadFile(filepath.Join(dir, heldOutDir, d.Name+".jsonl"))
		}
	}
	for name, b := range held[24] {
		if !bytes.Equal(b, held[32][name]) {
			t.Errorf("%s: held-out records differ between caps 24 and 32", name)
		}
	}
	wantProblem(t, tinyConfig(t, func(c *Config) { c.Prepare.HeldOutFrom = "before" }), `prepare.heldout_from: want "sample" or "source", got "before"`)
}

// heldOutAndKept reads domain d's held-out records and its training records
// in run directory dir.
func heldOutAndKept(t *testing.T, dir string, d data.Domain) (dev, kept []data.Record) {
	t.Helper()
	dev, err := data.ReadRecords(filepath.Join(dir, heldOutDir, d.Name+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if kept, err = data.ReadRecords(d.Path); err != nil {
		t.Fatal(err)
	}
	return dev, kept
}
