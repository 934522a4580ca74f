package report

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/eval"
	"github.com/tdro/tdro/eval/metrics"
)

// synthetic builds a collection of n queries, each with one relevant doc
// "q<i>-rel", and a run that puts it at rank rank(i).
func synthetic(name string, n int) *collection.Collection {
	c := &collection.Collection{Name: name, Language: "en", Qrels: map[string]map[string]int{}}
	for i := range n {
		q := fmt.Sprintf("q%d", i)
		c.Queries = append(c.Queries, collection.Query{ID: q, Text: "text " + q})
		c.Docs = append(c.Docs, collection.Doc{ID: q + "-rel", Text: "x"}, collection.Doc{ID: q + "-other", Text: "y"})
		c.Qrels[q] = map[string]int{q + "-rel": 1}
	}
	return c
}

func runAt(c *collection.Collection, rank func(i int) int) metrics.Run {
	run := metrics.Run{}
	for i, q := range c.Queries {
		var rs []metrics.Result
		r := rank(i)
		for k := 0; k < 10; k++ {
			id := fmt.Sprintf("filler-%d", k)
			if k == r {
				id = q.ID + "-rel"
			}
			rs = append(rs, metrics.Result{DocID: id, Score: float64(10 - k)})
		}
		run[q.ID] = rs
	}
	return run
}

func results(t *testing.T) *eval.Results {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 1))
	res := &eval.Results{}
	for _, name := range []string{"base", "better", "same"} {
		res.Runs = append(res.Runs, &eval.RunResult{Name: name})
	}
	for _, ds := range []string{"alpha", "beta"} {
		c := synthetic(ds, 40)
		ranks := map[string]func(int) int{
			"base":   func(i int) int { return 2 + i%5 },
			"better": func(i int) int { return i % 2 },           // clearly better everywhere
			"same":   func(i int) int { return 2 + rng.IntN(5) }, // same distribution as the baseline
		}
		for _, run := range res.Runs {
			d, err := eval.ScoreRun(c, runAt(c, ranks[run.Name]), eval.Options{Name: run.Name})
			if err != nil {
				t.Fatal(err)
			}
			run.Datasets = append(run.Datasets, d)
		}
	}
	return res
}

func TestMarkdownTable(t *testing.T) {
	md, err := Markdown(results(t), Options{Baseline: "base", Measures: []metrics.Measure{{Kind: metrics.MRR, K: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(md, "\n")
	// | dataset | base | better | same |, then alpha: better wins with ‡.
	var alpha, mean string
	for _, l := range lines {
		if strings.HasPrefix(l, "| alpha |") {
			alpha = l
		}
		if strings.HasPrefix(l, "| *mean* |") {
			mean = l
		}
	}
	if !strings.Contains(alpha, "**0.7500**‡") {
		t.Errorf("alpha row %q: want better's MRR 0.75 bold with ‡", alpha)
	}
	if strings.Count(alpha, "‡")+strings.Count(alpha, "†") != 1 {
		t.Errorf("alpha row %q: only 'better' should be marked", alpha)
	}
	if mean == "" || !strings.Contains(md, "† p ≤ 0.05") {
		t.Errorf("missing mean row or legend:\n%s", md)
	}
	if _, err := Markdown(results(t), Options{Baseline: "nope"}); err == nil {
		t.Error("unknown baseline accepted")
	}
}

func TestHTMLAndJSON(t *testing.T) {
	r := results(t)
	page, err := HTML(r, "test report", Options{Baseline: "base"})
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, want := range []string{`<table class="tdro-results">`, "<svg", "ndcg@10 per dataset", "better − base", "<b>"} {
		if !strings.Contains(s, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(s, "<?xml") {
		t.Error("inline SVG keeps its XML prolog")
	}
	if dir := os.Getenv("TDRO_REPORT_SAMPLE"); dir != "" { // for eyeballing in a browser
		os.WriteFile(filepath.Join(dir, "sample.html"), page, 0o644)
	}
	paths, err := WriteJSON(t.TempDir(), r)
	if err != nil || len(paths) != 6 {
		t.Fatalf("WriteJSON: %v %v", paths, err)
	}
	b, _ := os.ReadFile(paths[0])
	for _, want := range []string{`"main_score"`, `"ndcg_at_10"`, `"per_query"`, `"task_name": "alpha"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b[:min(len(b), 400)])
		}
	}
}

func TestReadJSONRoundTrip(t *testing.T) {
	r := results(t)
	for _, run := range r.Runs { // evaluated in an order that is not the names'
		slices.Reverse(run.Datasets)
	}
	dir := t.TempDir()
	if _, err := WriteJSON(dir, r); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range back.Runs {
		var names []string
		for _, d := range run.Datasets {
			names = append(names, d.Dataset)
		}
		if got := strings.Join(names, " "); got != "beta alpha" {
			t.Errorf("run %s: datasets read back as %s, written as beta alpha", run.Name, got)
		}
	}
	o := Options{Baseline: "base"}
	want, _ := Markdown(r, o)
	got, err := Markdown(back, o)
	if err != nil {
		t.Fatal(err)
	}
	// Runs come back sorted by name: compare the cells run by run.
	for _, run := range r.Runs {
		for _, d := range run.Datasets {
			b := back.Run(run.Name).Dataset(d.Dataset)
			for i, m := range d.Scores.Measures {
				v, ok := b.Mean(m)
				if !ok || v != d.Scores.Mean[i] {
					t.Errorf("%s/%s %v: read %v, wrote %v", run.Name, d.Dataset, m, v, d.Scores.Mean[i])
				}
			}
		}
	}
	if strings.Count(got, "‡") != strings.Count(want, "‡") {
		t.Errorf("marks differ after the round trip:\n%s\nvs\n%s", got, want)
	}
	if _, err := ReadJSON(t.TempDir()); err == nil {
		t.Error("empty directory accepted")
	}
}

func TestMeanOverCommonDatasets(t *testing.T) {
	r := results(t)
	r.Runs[1].Datasets = r.Runs[1].Datasets[:1] // "better" only has alpha
	tb, err := NewTable(r, metrics.Measure{Kind: metrics.MRR, K: 10}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tb.MeanLabel() != "mean (1 of 2 sets)" || tb.Mean[0].Value != tb.Cells[0][0].Value {
		t.Errorf("label %q, base mean %v, want alpha's %v", tb.MeanLabel(), tb.Mean[0].Value, tb.Cells[0][0].Value)
	}
	if tb.Cells[1][1].OK {
		t.Error("missing dataset shown as a value")
	}
}

func TestSignificanceRows(t *testing.T) {
	r := results(t)
	o := Options{Baseline: "base", Measures: []metrics.Measure{{Kind: metrics.MRR, K: 10}}}
	rows, err := Significance(r, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 { // 2 runs x 2 datasets
		t.Fatalf("%d rows, want 4", len(rows))
	}
	for _, row := range rows {
		if row.Run == "better" && (row.Mark != "‡" || row.PTTest > 0.01 || row.MeanDiff <= 0 || row.N != 40) {
			t.Errorf("better: %+v", row)
		}
	}
	md, _ := Markdown(r, o)
	if !strings.Contains(md, "p-values against base") || !strings.Contains(md, "| mrr@10 | better | alpha | 40 |") {
		t.Errorf("Markdown lacks the p-value table:\n%s", md)
	}
}
