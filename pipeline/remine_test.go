package pipeline

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tdro/tdro/data"
)

// TestRemineStage runs the tiny pipeline with prepare.remine up to the
// transfer: a retriever is trained on prepare's mixture and re-mines every
// domain before stage 0, and stage 0, stage 1 and the transferred mixtures
// all read the re-mined records: same records and positives, negatives from
// the retriever, none of them a positive.
func TestRemineStage(t *testing.T) {
	dir := t.TempDir()
	opt := tinyOptions(t, dir)
	opt.Config.Prepare.Remine = &RemineConfig{Negatives: 3}
	if err := opt.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	opt.Until = []string{"transfer"}
	ran := runStages(t, opt)
	if want := []string{"base", "prepare", "train-retriever", "mine", "train-reference", "dro", "transfer"}; !slices.Equal(ran, want) {
		t.Errorf("ran %v, want %v", ran, want)
	}
	for _, st := range []string{"train-reference", "dro", "transfer"} {
		m, err := LoadManifest(dir, st)
		if err != nil || m == nil {
			t.Fatalf("manifest of %s: %v", st, err)
		}
		if _, ok := m.Upstream[mineStageName]; !ok {
			t.Errorf("%s does not key on the mine stage: upstream %v", st, m.Upstream)
		}
	}

	bm25, err := data.LoadMixture(filepath.Join(dir, mixtureFile))
	if err != nil {
		t.Fatal(err)
	}
	mined, err := data.LoadMixture(filepath.Join(dir, minedMixtureFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(mined.Domains) != len(bm25.Domains) {
		t.Fatalf("mined mixture has %d domains, prepare's %d", len(mined.Domains), len(bm25.Domains))
	}
	changed := 0
	for i, d := range bm25.Domains {
		m := mined.Domains[i]
		if m.Name != d.Name || m.Records != d.Records || !slices.Equal(m.Instructions, d.Instructions) {
			t.Errorf("domain %d: mined %s (%d records), prepare's %s (%d)", i, m.Name, m.Records, d.Name, d.Records)
		}
		if !strings.HasPrefix(m.Path, filepath.Join(dir, minedDir)+string(filepath.Separator)) {
			t.Errorf("%s: mined records at %s, not under %s", m.Name, m.Path, minedDir)
		}
		before, err := data.ReadRecords(d.Path)
		if err != nil {
			t.Fatal(err)
		}
		after, err := data.ReadRecords(m.Path)
		if err != nil {
			t.Fatal(err)
		}
		for j, r := range after {
			b := before[j]
			if r.QueryID != b.QueryID || r.Query != b.Query || !slices.Equal(r.Positives, b.Positives) {
				t.Fatalf("%s record %d: query or positives changed by mining", m.Name, j)
			}
			if len(r.Negatives) > 3 {
				t.Errorf("%s record %d: %d negatives, want at most 3", m.Name, j, len(r.Negatives))
			}
			for _, n := range r.Negatives {
				if slices.ContainsFunc(r.Positives, func(p data.Passage) bool { return p.Text == n.Text }) {
					t.Errorf("%s record %d: negative %q is a positive", m.Name, j, n.Text)
				}
			}
			if !slices.Equal(r.Negatives, b.Negatives) {
				changed++
			}
		}
	}
	if changed == 0 {
		t.Error("re-mining changed no record's negatives")
	}
	for _, tr := range opt.Config.transfers() {
		m, err := data.LoadMixture(filepath.Join(dir, mixturePath(tr.Name)))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range m.Domains {
			if !strings.HasPrefix(d.Path, filepath.Join(dir, minedDir)) {
				t.Errorf("transfer %s: domain %s reads %s, not the re-mined records", tr.Name, d.Name, d.Path)
			}
		}
	}
	rerunSkipsAll(t, opt)
}

func TestRemineConfigProblems(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"negative", func(c *Config) { c.Prepare.Remine = &RemineConfig{Negatives: -1} }, "prepare.remine.negatives must be >= 0"},
		{"none to mine", func(c *Config) { c.Prepare.Negatives, c.Prepare.Remine = 0, &RemineConfig{} }, "prepare.remine: set negatives (or prepare.negatives) > 0"},
		{"retriever taken", func(c *Config) {
			c.Prepare.Remine = &RemineConfig{}
			c.Transfer = append(c.Transfer, TransferConfig{Name: retrieverRun, Strategy: "ratio"})
		}, `transfer[2].name: "retriever" is taken`},
	} {
		t.Run(c.name, func(t *testing.T) { wantProblem(t, tinyConfig(t, c.change), c.want) })
	}
	cfg := tinyConfig(t, func(c *Config) { c.Prepare.Remine = &RemineConfig{} })
	if err := cfg.Validate(); err != nil || cfg.Prepare.Remine.negatives(cfg.Prepare) != cfg.Prepare.Negatives {
		t.Errorf("remine {} over negatives %d: %v, mines %d", cfg.Prepare.Negatives, err, cfg.Prepare.Remine.negatives(cfg.Prepare))
	}
}
