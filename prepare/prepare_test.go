package prepare

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/internal/shareddata"
)

func TestPrepareBundledIsCompleteAndDeterministic(t *testing.T) {
	dir := shareddata.Dir(t, "train")
	evals, err := collection.Bundled(dir)
	if err != nil {
		t.Fatal(err)
	}
	run := func(out string) (*data.Mixture, *Report) {
		mix, rep, err := Run(context.Background(), Options{DataDir: dir, OutDir: out, MaxPerDomain: 150, Negatives: 3, SkipBad: true, Evaluation: evals})
		if err != nil {
			t.Fatal(err)
		}
		return mix, rep
	}
	a, b := t.TempDir(), t.TempDir()
	mix, rep := run(a)
	run(b)
	// Byte-identical output for the same seed.
	files, _ := filepath.Glob(filepath.Join(a, "*"))
	stamps, _ := filepath.Glob(filepath.Join(a, ".prepare", "*"))
	if len(files) != len(mix.Domains)+2 || len(stamps) != len(mix.Domains) {
		t.Errorf("%d files and %d stamps for %d domains", len(files), len(stamps), len(mix.Domains))
	}
	files = append(files, stamps...)
	for _, f := range files {
		if filepath.Base(f) == ".prepare" {
			continue
		}
		rel, _ := filepath.Rel(a, f)
		x, _ := os.ReadFile(f)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between runs", filepath.Base(f))
		}
	}
	// The mixture loads back and meets the bar.
	loaded, err := data.LoadMixture(filepath.Join(a, "mixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	nonEnglish := 0
	for i, d := range loaded.Domains {
		if d.Language != "en" {
			nonEnglish++
		}
		if d.Weight != 1/float64(len(loaded.Domains)) || len(d.Instructions) == 0 {
			t.Errorf("%s: weight %v, instructions %q", d.Name, d.Weight, d.Instructions)
		}
		wantSym := d.Name == "ko_qpair" || d.Name == "sick" || strings.HasPrefix(d.Name, "stsb_mt")
		if d.Symmetric != wantSym {
			t.Errorf("%s: symmetric %v", d.Name, d.Symmetric)
		}
		recs, err := data.ReadRecords(d.Path)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 || len(recs) != d.Records || len(recs) > 150 {
			t.Errorf("%s: %d records, mixture says %d", d.Name, len(recs), d.Records)
		}
		withNeg := 0
		for _, r := range recs {
			if len(r.Negatives) > 0 {
				withNeg++
			}
			if len(r.Negatives) > 3 {
				t.Errorf("%s: %d negatives", d.Name, len(r.Negatives))
			}
			for _, n := range r.Negatives {
				if n.Text == r.Positives[0].Text {
					t.Errorf("%s: positive used as negative in %s", d.Name, r.QueryID)
				}
			}
		}
		if withNeg < len(recs)*9/10 {
			t.Errorf("%s: only %d of %d records have hard negatives", d.Name, withNeg, len(recs))
		}
		if rep.Domains[i].Name != d.Name || rep.Domains[i].Records != len(recs) {
			t.Errorf("report row %d: %+v", i, rep.Domains[i])
		}
	}
	if len(loaded.Domains) < 8 || nonEnglish < 3 {
		t.Errorf("%d domains, %d non-English", len(loaded.Domains), nonEnglish)
	}
	// Records the bundled sources are known to hold.
	imported := map[string]int{}
	for _, d := range rep.Domains {
		imported[d.Name] = d.Imported
	}
	want := map[string]int{"drcd": 3524 + 3493, "korquad": 5774, "cmrc2018": 3219 + 1002 - 2, "ko_chatbot": 11823, "pubmedqa": 1000, "conala": 2378 + 500, "agnews": 7600}
	for name, n := range want {
		if imported[name] != n {
			t.Errorf("%s: imported %d, want %d (MANIFEST.md)", name, imported[name], n)
		}
	}
	if rep.Domains[0].Skipped != 2 { // cmrc2018_trial.json has two empty questions
		t.Errorf("cmrc2018 skipped %d, want 2", rep.Domains[0].Skipped)
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	if !strings.Contains(table.String(), "korquad") || !strings.Contains(table.String(), "% hard neg") {
		t.Errorf("table:\n%s", table.String())
	}
	// Strict mode names the bad item.
	_, _, err = Run(context.Background(), Options{DataDir: dir, OutDir: t.TempDir(), MaxPerDomain: 10, Sources: DefaultSources(nil)[:1], Evaluation: evals})
	if err == nil || !strings.Contains(err.Error(), `cmrc2018_trial.json line 9690: field "data[188].paragraphs[0].qas[4].question": empty`) {
		t.Errorf("strict prepare: %v", err)
	}
}

// An evaluation set smuggled into the training sources must be removed:
// XQuAD-R's English file is SQuAD-style, so it imports as a training domain.
func TestPrepareRemovesEvaluationQueries(t *testing.T) {
	dir := shareddata.Dir(t, "train")
	evals, err := collection.Bundled(dir)
	if err != nil {
		t.Fatal(err)
	}
	leak := Source{Name: "leak", Language: "en", Format: "squad", Files: []string{"eval/xquadr/en.json", "train/korquad/*.json"}}
	_, rep, err := Run(context.Background(), Options{DataDir: dir, OutDir: t.TempDir(), MaxPerDomain: 50, Negatives: 2,
		Sources: []Source{leak}, Evaluation: evals})
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Domains[0]
	if d.Imported != 1190+5774 || d.Duplicates != 1190 || d.DuplicatesBy["xquadr-en"] < 1180 {
		t.Errorf("imported %d, removed %d (%v); want all 1,190 XQuAD-R questions removed", d.Imported, d.Duplicates, d.DuplicatesBy)
	}
	leak.Files = leak.Files[:1]
	_, _, err = Run(context.Background(), Options{DataDir: dir, OutDir: t.TempDir(), Sources: []Source{leak}, Evaluation: evals})
	if err == nil || !strings.Contains(err.Error(), "domain leak: no records left (1190 imported, 1190 duplicates") {
		t.Errorf("all-duplicate domain: %v", err)
	}
}

func TestRemoveEvalDuplicates(t *testing.T) {
	evals := []*collection.Collection{
		{Name: "cisi", Queries: []collection.Query{{ID: "1", Text: "What problems and concerns are there in making up descriptive titles?"}}},
		{Name: "xquadr-zh", Queries: []collection.Query{{ID: "2", Text: "黑豹队的防守丢失了多少分？"}}},
	}
	set := EvalQuerySet(evals)
	recs := []data.Record{
		{Query: "what problems and concerns are there in making up descriptive titles"},
		{Query: "黑豹队的防守丢失了多少分"},
		{Query: "An unrelated training question about sourdough bread"},
	}
	kept, by := RemoveEvalDuplicates(recs, set)
	if len(kept) != 1 || kept[0].Query != recs[2].Query || !reflect.DeepEqual(by, map[string]int{"cisi": 1, "xquadr-zh": 1}) {
		t.Errorf("kept %v, removed %v", kept, by)
	}
}

func TestMineNegativesDeterministicAcrossCPUs(t *testing.T) {
	var recs []data.Record
	for i := range 300 {
		recs = append(recs, data.Record{
			QueryID:   fmt.Sprint(i),
			Query:     fmt.Sprintf("topic%d shared words", i%10),
			Positives: []data.Passage{{DocID: fmt.Sprint(i), Text: fmt.Sprintf("topic%d passage %d shared", i%10, i)}},
		})
	}
	recs[0].Negatives = []data.Passage{{Text: "given negative"}, {Text: recs[0].Positives[0].Text}}
	mine := func(procs int) []data.Record {
		old := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(old)
		cp := make([]data.Record, len(recs))
		copy(cp, recs)
		if err := MineNegatives(context.Background(), cp, nil, MineOptions{Negatives: 4, Seed: 7}); err != nil {
			t.Fatal(err)
		}
		return cp
	}
	one, two := mine(1), mine(2)
	if !reflect.DeepEqual(one, two) {
		t.Fatal("mining depends on the number of CPUs")
	}
	if one[0].Negatives[0].Text != "given negative" || len(one[0].Negatives) != 4 {
		t.Errorf("existing negatives should come first, positives never: %+v", one[0].Negatives)
	}
	for _, r := range one {
		seen := map[string]bool{}
		for _, n := range r.Negatives {
			if n.Text == r.Positives[0].Text || seen[n.Text] {
				t.Fatalf("%s: bad negative %q", r.QueryID, n.Text)
			}
			seen[n.Text] = true
		}
	}
	other := make([]data.Record, len(recs))
	copy(other, recs)
	MineNegatives(context.Background(), other, nil, MineOptions{Negatives: 4, Seed: 8})
	if reflect.DeepEqual(one, other) {
		t.Error("seed has no effect")
	}
}

func TestSample(t *testing.T) {
	recs := make([]data.Record, 50)
	for i := range recs {
		recs[i].QueryID = fmt.Sprint(i)
	}
	a, b := Sample(recs, 10, 1), Sample(recs, 10, 1)
	if len(a) != 10 || !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, Sample(recs, 10, 2)) {
		t.Error("seeded sample")
	}
	for i := 1; i < len(a); i++ {
		var x, y int
		fmt.Sscan(a[i-1].QueryID, &x)
		fmt.Sscan(a[i].QueryID, &y)
		if x >= y {
			t.Error("sample not in original order")
		}
	}
	if len(Sample(recs, -1, 1)) != 50 || len(Sample(recs, 100, 1)) != 50 {
		t.Error("no cap")
	}
}

func TestPrepareResumes(t *testing.T) {
	dir := shareddata.Dir(t, "train")
	evals := []*collection.Collection{{Name: "e", Queries: []collection.Query{{ID: "1", Text: "an evaluation query"}}}}
	srcs := DefaultSources([]string{"de", "es"})
	var small []Source
	for _, s := range srcs {
		if s.Name == "sick" || strings.HasPrefix(s.Name, "stsb_mt") {
			small = append(small, s)
		}
	}
	out := t.TempDir()
	opt := Options{DataDir: dir, OutDir: out, MaxPerDomain: 40, Negatives: 2, Evaluation: evals}
	run := func(o Options) *Report {
		t.Helper()
		_, rep, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	// An "interrupted" run that finished only the first domain.
	opt.Sources = small[:1]
	first := run(opt)
	before, _ := os.ReadFile(filepath.Join(out, "sick.jsonl"))
	opt.Sources = small
	rep := run(opt)
	if got := reusedDomains(rep); !reflect.DeepEqual(got, []string{"sick"}) {
		t.Errorf("resumed run reused %v, want [sick]", got)
	}
	if !reflect.DeepEqual(rep.Domains[0].DuplicatesBy, first.Domains[0].DuplicatesBy) || rep.Domains[0].Records != first.Domains[0].Records || rep.Domains[0].MeanQueryLen != first.Domains[0].MeanQueryLen {
		t.Errorf("reused report %+v differs from %+v", rep.Domains[0], first.Domains[0])
	}
	if got := reusedDomains(run(opt)); len(got) != 3 {
		t.Errorf("unchanged rerun reused %v", got)
	}
	// A damaged output, or other options, means recomputing.
	os.WriteFile(filepath.Join(out, "sick.jsonl"), []byte("{}\n"), 0o644)
	opt.Seed = 9
	rep = run(opt)
	if got := reusedDomains(rep); len(got) != 0 {
		t.Errorf("new seed reused %v", got)
	}
	opt.Seed = 0
	rep = run(opt)
	after, _ := os.ReadFile(filepath.Join(out, "sick.jsonl"))
	if got := reusedDomains(rep); len(got) != 0 || !bytes.Equal(before, after) {
		t.Errorf("after seed change and back: reused %v, sick.jsonl restored=%v", got, bytes.Equal(before, after))
	}
	if got := reusedDomains(run(opt)); len(got) != 3 {
		t.Errorf("rerun reused %v", got)
	}
}

// reusedDomains names the domains a prepare run took from their stamps.
func reusedDomains(rep *Report) (names []string) {
	for _, d := range rep.Domains {
		if d.Reused {
			names = append(names, d.Name)
		}
	}
	return names
}

// TestPrepareHeldOutBeforeSample: records held out before the sample are
// the same, byte for byte, whatever MaxPerDomain is, in no training file,
// and mined like the training records.
func TestPrepareHeldOutBeforeSample(t *testing.T) {
	dir := shareddata.Dir(t, "train")
	evals := []*collection.Collection{{Name: "e", Queries: []collection.Query{{ID: "1", Text: "an evaluation query"}}}}
	var srcs []Source
	for _, s := range DefaultSources([]string{"de"}) {
		if s.Name == "sick" || s.Name == "stsb_mt-de" {
			srcs = append(srcs, s)
		}
	}
	held := map[int]map[string][]byte{}
	var opt Options
	for _, max := range []int{40, 80} {
		out := t.TempDir()
		opt = Options{DataDir: dir, OutDir: out, MaxPerDomain: max, Negatives: 2, Sources: srcs, Evaluation: evals,
			HeldOut: 6, HeldOutDir: filepath.Join(out, "heldout")}
		_, rep, err := Run(context.Background(), opt)
		if err != nil {
			t.Fatal(err)
		}
		held[max] = map[string][]byte{}
		for _, d := range rep.Domains {
			train, err := data.ReadRecords(filepath.Join(out, d.Name+".jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(out, "heldout", d.Name+".jsonl")
			dev, err := data.ReadRecords(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(train) != max || len(dev) != 6 {
				t.Errorf("max %d, %s: %d training and %d held-out records, want %d and 6", max, d.Name, len(train), len(dev), max)
			}
			ids := map[string]bool{}
			for _, r := range train {
				ids[r.QueryID] = true
			}
			for _, r := range dev {
				if ids[r.QueryID] {
					t.Errorf("%s: held-out query %s is also a training record", d.Name, r.QueryID)
				}
				if len(r.Negatives) == 0 {
					t.Errorf("%s: held-out query %s has no hard negatives", d.Name, r.QueryID)
				}
			}
			held[max][d.Name], _ = os.ReadFile(path)
		}
	}
	for name, b := range held[40] {
		if !bytes.Equal(b, held[80][name]) {
			t.Errorf("%s: the held-out records differ between MaxPerDomain 40 and 80", name)
		}
	}
	// The stamp covers the held-out file: a rerun reuses both files, a
	// damaged held-out file is recomputed, byte for byte as before.
	opt.MaxPerDomain = 80
	rerun := func() []string {
		t.Helper()
		_, rep, err := Run(context.Background(), opt)
		if err != nil {
			t.Fatal(err)
		}
		return reusedDomains(rep)
	}
	mixture := filepath.Join(opt.OutDir, "mixture.json")
	fresh, _ := os.ReadFile(mixture)
	if got := rerun(); len(got) != len(srcs) {
		t.Errorf("unchanged rerun with a held-out split reused %v, want every domain", got)
	}
	if reused, _ := os.ReadFile(mixture); !bytes.Equal(reused, fresh) { // source_records among them
		t.Errorf("mixture.json from the stamps differs from the computed one:\n%s\nwant\n%s", reused, fresh)
	}
	damaged := filepath.Join(opt.HeldOutDir, "sick.jsonl")
	os.WriteFile(damaged, []byte("{}\n"), 0o644)
	if got := rerun(); slices.Contains(got, "sick") {
		t.Errorf("rerun reused sick although its held-out file was damaged")
	}
	if b, _ := os.ReadFile(damaged); !bytes.Equal(b, held[80]["sick"]) {
		t.Errorf("the recomputed held-out file differs from the first one")
	}
}
