// Package report turns evaluation results into MTEB-style JSON files, a
// Markdown table, an HTML page and SVG plots. The table and plot functions
// are building blocks other reports (the pipeline's report.html) embed.
package report

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tdro/tdro/eval"
	"github.com/tdro/tdro/eval/metrics"
	"github.com/tdro/tdro/eval/significance"
	"github.com/tdro/tdro/internal/atomicfile"
)

// Options choose what a table or page shows.
type Options struct {
	// Measures to tabulate, one table each (default nDCG@10 and Recall@100,
	// the paper's headline metrics).
	Measures []metrics.Measure
	// Baseline is the run every other run is tested against ("" = none).
	Baseline string
	// Randomization configures the permutation test (seeded, reproducible).
	Randomization significance.Randomization
}

func (o Options) measures() []metrics.Measure {
	if len(o.Measures) > 0 {
		return o.Measures
	}
	return []metrics.Measure{{Kind: metrics.NDCG, K: 10}, {Kind: metrics.Recall, K: 100}}
}

// Cell is one dataset x run entry of a table.
type Cell struct {
	Value float64
	OK    bool                 // the run has this dataset and measure
	Best  bool                 // highest value in its row
	Test  *significance.Result // vs the baseline (nil for the baseline itself or without one)
}

// Mark is the significance mark of the cell ("" when not significant).
func (c Cell) Mark() string {
	if c.Test == nil {
		return ""
	}
	return significance.Mark(c.Test.P())
}

// Table is one measure over datasets (rows) and runs (columns).
type Table struct {
	Measure  metrics.Measure
	Runs     []string
	Datasets []string
	Cells    [][]Cell // [dataset][run]
	Mean     []Cell   // mean over the MeanOver datasets that every run has
	MeanOver int
	Baseline string
}

// MeanLabel names the mean row: "mean", or "mean (k of n sets)" when some
// runs lack some datasets.
func (t *Table) MeanLabel() string {
	if t.MeanOver == len(t.Datasets) {
		return "mean"
	}
	return fmt.Sprintf("mean (%d of %d sets)", t.MeanOver, len(t.Datasets))
}

// markBest bolds the highest value of a row when there are two runs or more.
func markBest(row []Cell) {
	if len(row) < 2 {
		return
	}
	best := math.Inf(-1)
	for _, c := range row {
		if c.OK {
			best = math.Max(best, c.Value)
		}
	}
	for j := range row { // equal up to rounding counts as equal
		row[j].Best = row[j].OK && row[j].Value >= best-1e-12
	}
}

// NewTable computes a table: values, best per row, and the paired tests of
// every run against the baseline on the queries both scored.
func NewTable(r *eval.Results, m metrics.Measure, o Options) (*Table, error) {
	t := &Table{Measure: m, Datasets: r.Datasets(), Baseline: o.Baseline}
	var base *eval.RunResult
	if o.Baseline != "" {
		if base = r.Run(o.Baseline); base == nil {
			return nil, fmt.Errorf("report: baseline run %q not in the results (have %s)", o.Baseline, strings.Join(runNames(r), ", "))
		}
	}
	for _, run := range r.Runs {
		t.Runs = append(t.Runs, run.Name)
	}
	t.Cells = make([][]Cell, len(t.Datasets))
	for i, ds := range t.Datasets {
		row := make([]Cell, len(r.Runs))
		for j, run := range r.Runs {
			d := run.Dataset(ds)
			if d == nil {
				continue
			}
			v, ok := d.Mean(m)
			if !ok {
				return nil, fmt.Errorf("report: run %s has no %v on %s", run.Name, m, ds)
			}
			row[j] = Cell{Value: v, OK: true}
			if base != nil && run != base {
				if bd := base.Dataset(ds); bd != nil {
					res, err := Compare(d, bd, m, o.Randomization)
					if err != nil {
						return nil, fmt.Errorf("report: %s vs %s on %s: %w", run.Name, base.Name, ds, err)
					}
					row[j].Test = &res
				}
			}
		}
		markBest(row)
		t.Cells[i] = row
	}
	// The mean is over the datasets every run has, so that runs are
	// compared on the same sets.
	t.Mean = make([]Cell, len(r.Runs))
	for i := range t.Datasets {
		complete := true
		for _, c := range t.Cells[i] {
			complete = complete && c.OK
		}
		if !complete {
			continue
		}
		t.MeanOver++
		for j, c := range t.Cells[i] {
			t.Mean[j].Value += c.Value
		}
	}
	for j := range t.Mean {
		if t.MeanOver > 0 {
			t.Mean[j].Value /= float64(t.MeanOver)
			t.Mean[j].OK = true
		}
	}
	markBest(t.Mean)
	return t, nil
}

// Compare pairs two runs' per-query values of m on the queries both
// evaluated and runs both significance tests (run minus baseline).
func Compare(run, baseline *eval.DatasetResult, m metrics.Measure, r significance.Randomization) (significance.Result, error) {
	a, b, err := Paired(run, baseline, m)
	if err != nil {
		return significance.Result{}, err
	}
	return significance.Compare(a, b, r)
}

// Paired returns the per-query values of m of two runs on their common
// queries, in query-id order.
func Paired(run, baseline *eval.DatasetResult, m metrics.Measure) (a, b []float64, err error) {
	ca, ok1 := run.Scores.Column(m)
	cb, ok2 := baseline.Scores.Column(m)
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("measure %v not computed for both runs", m)
	}
	bv := make(map[string]float64, len(cb))
	for i, q := range baseline.Scores.Queries {
		bv[q] = cb[i]
	}
	for i, q := range run.Scores.Queries {
		if v, ok := bv[q]; ok {
			a = append(a, ca[i])
			b = append(b, v)
		}
	}
	if len(a) == 0 {
		return nil, nil, fmt.Errorf("no common queries")
	}
	return a, b, nil
}

func runNames(r *eval.Results) []string {
	var out []string
	for _, run := range r.Runs {
		out = append(out, run.Name)
	}
	return out
}

// MTEB is the JSON written per run and dataset, shaped like an MTEB result
// file (scores.test[0] holds every measure by its MTEB name, plus
// main_score = nDCG@10) with tdro's counts, timings and per-query values.
type MTEB struct {
	TaskName       string                      `json:"task_name"`
	EvaluationTime float64                     `json:"evaluation_time"`
	Scores         map[string][]map[string]any `json:"scores"`
	Tdro           MTEBExtra                   `json:"tdro"`
}

// MTEBExtra is tdro's part of the result file.
type MTEBExtra struct {
	Run         string                        `json:"run"`
	Language    string                        `json:"language"`
	Instruction string                        `json:"query_instruction"` // "": plain queries
	Stats       eval.Stats                    `json:"stats"`
	Timing      eval.Timing                   `json:"timing"`
	Warnings    []string                      `json:"warnings,omitempty"`
	Missing     []string                      `json:"missing_queries,omitempty"`
	PerQuery    map[string]map[string]float64 `json:"per_query"`
}

// NewMTEB builds the result file of one dataset.
func NewMTEB(d *eval.DatasetResult) MTEB {
	scores := map[string]any{"hf_subset": "default", "languages": []string{d.Language}}
	per := map[string]map[string]float64{}
	for i, m := range d.Scores.Measures {
		scores[m.MTEBName()] = d.Scores.Mean[i]
		if m == (metrics.Measure{Kind: metrics.NDCG, K: 10}) {
			scores["main_score"] = d.Scores.Mean[i]
		}
	}
	for q, vs := range d.Scores.PerQuery {
		row := map[string]float64{}
		for i, m := range d.Scores.Measures {
			row[m.String()] = vs[i]
		}
		per[q] = row
	}
	t := d.Timing
	return MTEB{
		TaskName:       d.Dataset,
		EvaluationTime: t.EncodeCorpus + t.EncodeQueries + t.Search + t.Index,
		Scores:         map[string][]map[string]any{"test": {scores}},
		Tdro: MTEBExtra{Run: d.Run, Language: d.Language, Instruction: d.Instruction, Stats: d.Stats, Timing: t, Warnings: d.Warnings,
			Missing: d.Scores.Missing, PerQuery: per},
	}
}

// WriteJSON writes dir/<run>/<dataset>.json for every run and dataset
// (atomically) and returns the paths.
func WriteJSON(dir string, r *eval.Results) ([]string, error) {
	var paths []string
	for _, run := range r.Runs {
		var order []string
		for _, d := range run.Datasets {
			p := filepath.Join(dir, safeName(run.Name), safeName(d.Dataset)+".json")
			if err := atomicfile.WriteJSON(p, NewMTEB(d)); err != nil {
				return nil, err
			}
			paths = append(paths, p)
			order = append(order, filepath.Base(p))
		}
		// The evaluation order, so that ReadJSON gives back the same tables.
		if err := atomicfile.WriteFile(filepath.Join(dir, safeName(run.Name), orderFile), []byte(strings.Join(order, "\n")+"\n")); err != nil {
			return nil, err
		}
	}
	sort.Strings(paths)
	return paths, nil
}

// orderFile lists a run's dataset files in evaluation order.
const orderFile = "ORDER"

// safeName keeps a run or dataset name usable as a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ':' {
			return '_'
		}
		return r
	}, s)
}

// Instructions lists, per dataset in first-seen order, the query
// instructions its runs encoded queries with: one line per distinct
// instruction, naming the runs ("plain" for none). Reports show it, since
// the instruction is part of a dense model's input.
func Instructions(r *eval.Results) [][2]string {
	type key struct{ ds, in string }
	var order []key
	runs := map[key][]string{}
	for _, run := range r.Runs {
		for _, d := range run.Datasets {
			k := key{d.Dataset, d.Instruction}
			if _, ok := runs[k]; !ok {
				order = append(order, k)
			}
			runs[k] = append(runs[k], run.Name)
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].ds < order[j].ds })
	out := make([][2]string, len(order))
	for i, k := range order {
		in := k.in
		if in == "" {
			in = "plain (no instruction)"
		}
		out[i] = [2]string{k.ds, in + " — " + strings.Join(runs[k], ", ")}
	}
	return out
}
