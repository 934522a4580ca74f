package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tdro/tdro/eval"
	"github.com/tdro/tdro/eval/metrics"
)

// ReadJSON reads back the result files WriteJSON wrote under dir
// (dir/<run>/<dataset>.json), per-query values included, so that an
// earlier evaluation can be tabulated and tested against a new one without
// re-running it. Runs are sorted by name; datasets come in the order they
// were evaluated (the run's ORDER file), or by file name without one.
func ReadJSON(dir string) (*eval.Results, error) {
	runs, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	out := &eval.Results{}
	for _, re := range runs {
		if !re.IsDir() {
			continue
		}
		files, err := filepath.Glob(filepath.Join(dir, re.Name(), "*.json"))
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		if b, err := os.ReadFile(filepath.Join(dir, re.Name(), orderFile)); err == nil {
			files = inOrder(files, strings.Fields(string(b)))
		}
		var run *eval.RunResult
		for _, f := range files {
			d, err := readDataset(f)
			if err != nil {
				return nil, err
			}
			if run == nil {
				run = &eval.RunResult{Name: d.Run}
			}
			run.Datasets = append(run.Datasets, d)
		}
		if run != nil {
			out.Runs = append(out.Runs, run)
		}
	}
	if len(out.Runs) == 0 {
		return nil, fmt.Errorf("read results: no result files under %s (want RUN/DATASET.json)", dir)
	}
	return out, nil
}

func readDataset(path string) (*eval.DatasetResult, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m MTEB
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if m.Tdro.Run == "" || m.TaskName == "" || len(m.Tdro.PerQuery) == 0 {
		return nil, fmt.Errorf("read %s: not a tdro result file (task_name, tdro.run and tdro.per_query needed)", path)
	}
	// Measures: the per-query keys, in the canonical order of the first query.
	var measures []metrics.Measure
	names := map[string]int{}
	for _, row := range m.Tdro.PerQuery {
		for name := range row {
			if _, ok := names[name]; !ok {
				ms, err := metrics.ParseMeasure(name)
				if err != nil {
					return nil, fmt.Errorf("read %s: %w", path, err)
				}
				names[name] = len(measures)
				measures = append(measures, ms)
			}
		}
	}
	sort.Slice(measures, func(i, j int) bool {
		if measures[i].Kind != measures[j].Kind {
			return measures[i].Kind < measures[j].Kind
		}
		return measures[i].K < measures[j].K
	})
	s := &metrics.Scores{Measures: measures, PerQuery: map[string][]float64{}, Missing: m.Tdro.Missing, Mean: make([]float64, len(measures))}
	for q := range m.Tdro.PerQuery {
		s.Queries = append(s.Queries, q)
	}
	sort.Strings(s.Queries) // the order metrics.Evaluate sums in: means come back bit for bit
	for _, q := range s.Queries {
		row := m.Tdro.PerQuery[q]
		vals := make([]float64, len(measures))
		for i, ms := range measures {
			v, ok := row[ms.String()]
			if !ok {
				return nil, fmt.Errorf("read %s: query %s lacks %s", path, q, ms)
			}
			vals[i] = v
			s.Mean[i] += v
		}
		s.PerQuery[q] = vals
	}
	for i := range s.Mean {
		s.Mean[i] /= float64(len(s.Queries))
	}
	return &eval.DatasetResult{Dataset: m.TaskName, Language: m.Tdro.Language, Run: m.Tdro.Run, Instruction: m.Tdro.Instruction,
		Stats: m.Tdro.Stats, Timing: m.Tdro.Timing, Scores: s, Warnings: m.Tdro.Warnings}, nil
}

// inOrder sorts files (paths) by the position of their base name in order;
// files order does not name come after, by name.
func inOrder(files, order []string) []string {
	pos := map[string]int{}
	for i, n := range order {
		pos[n] = i
	}
	rank := func(f string) int {
		if i, ok := pos[filepath.Base(f)]; ok {
			return i
		}
		return len(order)
	}
	sort.SliceStable(files, func(i, j int) bool { return rank(files[i]) < rank(files[j]) })
	return files
}
