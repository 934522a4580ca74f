package study

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/tdro/tdro/eval"
	"github.com/tdro/tdro/eval/metrics"
)

// Seed is one replicate of a study: every run's evaluation and the domain
// weights each learner learned.
type Seed struct {
	Seed    uint64
	Results *eval.Results                 // the runs, including the baseline
	Weights map[string]map[string]float64 // learner -> domain -> weight (nil: none)
}

// Options configure Analyze.
type Options struct {
	Baseline string          // the run every other is compared with ("uniform")
	Measure  metrics.Measure // e.g. nDCG@10
	Level    float64         // interval level (0.95)
	Alpha    float64         // test level for verdicts and the MDE (0.05)
	Power    float64         // for the minimum detectable effect (0.8)
	// Records is each run's share of the baseline's training records, for
	// the verdict line (optional).
	Records map[string]float64
}

// DefaultOptions compare with "uniform" on nDCG@10 at 95%, alpha 0.05,
// power 0.8.
func DefaultOptions() Options {
	return Options{Baseline: "uniform", Measure: metrics.Measure{Kind: metrics.NDCG, K: 10}, Level: 0.95, Alpha: 0.05, Power: 0.8}
}

// Report is a study's answer.
type Report struct {
	Seeds    []uint64
	Measure  string
	Baseline Row
	Runs     []Row    // every other run, in the results' order
	Sets     []string // evaluation sets
	PerSet   []SetRow
	Learned  []Learned // per learner, in name order
	Options  Options
}

// Learned is one learner's weights across the seeds.
type Learned struct {
	Learner string
	Weights []WeightRow
	// RankCorrelation is the mean Spearman correlation of the learned
	// weights over every pair of seeds (NaN with fewer than two), and its
	// minimum.
	RankCorrelation, MinRankCorrelation float64
}

// Row is one run: its mean over sets per seed, and against the baseline.
type Row struct {
	Run     string
	PerSeed []float64 // mean over the evaluation sets, one per seed
	Mean    Interval  // of PerSeed
	Diff    Paired    // PerSeed minus the baseline's, paired by seed
	MDE     float64   // minimum detectable effect of this comparison
	Verdict string
}

// SetRow is one run on one set: the mean over seeds and the test on
// per-query differences (averaged over seeds) against the baseline.
type SetRow struct {
	Run, Set string
	Mean     Interval // of the per-seed set means
	Diff     float64  // mean over queries of the seed-averaged difference
	P, Holm  float64  // paired t-test over queries; Holm-adjusted within the run
}

// WeightRow is one domain's learned weight across seeds.
type WeightRow struct {
	Domain   string
	Mean, SD float64
}

// Analyze computes the study report from the replicates (at least one).
func Analyze(seeds []Seed, o Options) (*Report, error) {
	if len(seeds) == 0 {
		return nil, fmt.Errorf("study: no seeds")
	}
	first := seeds[0].Results
	base := first.Run(o.Baseline)
	if base == nil {
		return nil, fmt.Errorf("study: no baseline run %q", o.Baseline)
	}
	r := &Report{Measure: o.Measure.String(), Options: o}
	for _, s := range seeds {
		r.Seeds = append(r.Seeds, s.Seed)
	}
	for _, d := range base.Datasets {
		r.Sets = append(r.Sets, d.Dataset)
	}
	// means[run][seed][set] and perQuery[run][set][seed] -> query -> value
	means := map[string][][]float64{}
	perQuery := map[string]map[string][]map[string]float64{}
	var order []string
	for si, s := range seeds {
		for _, run := range s.Results.Runs {
			if si == 0 {
				order = append(order, run.Name)
				perQuery[run.Name] = map[string][]map[string]float64{}
			}
			if _, ok := perQuery[run.Name]; !ok {
				return nil, fmt.Errorf("study: seed %d has run %q, seed %d has not", s.Seed, run.Name, seeds[0].Seed)
			}
			row := make([]float64, len(r.Sets))
			for k, set := range r.Sets {
				d := run.Dataset(set)
				if d == nil {
					return nil, fmt.Errorf("study: seed %d run %s has no set %s", s.Seed, run.Name, set)
				}
				v, ok := d.Mean(o.Measure)
				col, ok2 := d.Scores.Column(o.Measure)
				if !ok || !ok2 {
					return nil, fmt.Errorf("study: seed %d run %s set %s has no %s", s.Seed, run.Name, set, o.Measure)
				}
				row[k] = v
				q := map[string]float64{}
				for i, id := range d.Scores.Queries {
					q[id] = col[i]
				}
				perQuery[run.Name][set] = append(perQuery[run.Name][set], q)
			}
			means[run.Name] = append(means[run.Name], row)
		}
	}
	for _, run := range order {
		if len(means[run]) != len(seeds) {
			return nil, fmt.Errorf("study: run %s has results for %d of %d seeds", run, len(means[run]), len(seeds))
		}
	}
	overSets := func(run string) []float64 {
		out := make([]float64, len(seeds))
		for si, row := range means[run] {
			for _, v := range row {
				out[si] += v
			}
			out[si] /= float64(len(row))
		}
		return out
	}
	baseSeeds := overSets(o.Baseline)
	var err error
	if r.Baseline, err = row(o.Baseline, baseSeeds, baseSeeds, o); err != nil {
		return nil, err
	}
	for _, run := range order {
		if run == o.Baseline {
			continue
		}
		rw, err := row(run, overSets(run), baseSeeds, o)
		if err != nil {
			return nil, err
		}
		r.Runs = append(r.Runs, rw)
		var sets []SetRow
		var ps []float64
		for k, set := range r.Sets {
			col := make([]float64, len(seeds))
			for si := range seeds {
				col[si] = means[run][si][k]
			}
			iv, err := MeanCI(col, o.Level)
			if err != nil {
				return nil, err
			}
			a, b := seedAveraged(perQuery[o.Baseline][set], perQuery[run][set])
			pt, err := PairedT(a, b, o.Level)
			if err != nil {
				return nil, err
			}
			sets = append(sets, SetRow{Run: run, Set: set, Mean: iv, Diff: pt.Diff.Mean, P: pt.P})
			ps = append(ps, pt.P)
		}
		for i, h := range Holm(ps) {
			sets[i].Holm = h
		}
		r.PerSet = append(r.PerSet, sets...)
	}
	r.weights(seeds)
	return r, nil
}

func row(run string, perSeed, base []float64, o Options) (Row, error) {
	mean, err := MeanCI(perSeed, o.Level)
	if err != nil {
		return Row{}, err
	}
	diff, err := PairedT(base, perSeed, o.Level)
	if err != nil {
		return Row{}, err
	}
	rw := Row{Run: run, PerSeed: perSeed, Mean: mean, Diff: diff, MDE: MinimumDetectableEffect(diff.Diff.SD, len(perSeed), o.Alpha, o.Power)}
	if run != o.Baseline {
		rw.Verdict = verdict(rw, o)
	}
	return rw, nil
}

// seedAveraged pairs the queries both runs scored in every seed and
// averages each query's value over the seeds.
func seedAveraged(base, run []map[string]float64) (a, b []float64) {
	var ids []string
	for id := range base[0] {
		ok := true
		for si := range base {
			_, inBase := base[si][id]
			_, inRun := run[si][id]
			ok = ok && inBase && inRun
		}
		if ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		var x, y float64
		for si := range base {
			x += base[si][id]
			y += run[si][id]
		}
		a, b = append(a, x/float64(len(base))), append(b, y/float64(len(base)))
	}
	return a, b
}

func (r *Report) weights(seeds []Seed) {
	var learners []string
	for l := range seeds[0].Weights {
		learners = append(learners, l)
	}
	sort.Strings(learners)
	for _, l := range learners {
		r.Learned = append(r.Learned, learned(l, seeds))
	}
}

// learned is learner l's weights across the seeds: per domain the mean and
// spread, and the rank correlation between every pair of seeds.
func learned(l string, seeds []Seed) Learned {
	r := Learned{Learner: l, RankCorrelation: math.NaN(), MinRankCorrelation: math.NaN()}
	var domains []string
	for d := range seeds[0].Weights[l] {
		domains = append(domains, d)
	}
	sort.Strings(domains)
	vecs := make([][]float64, len(seeds))
	for si, s := range seeds {
		vecs[si] = make([]float64, len(domains))
		for k, d := range domains {
			vecs[si][k] = s.Weights[l][d]
		}
	}
	for k, d := range domains {
		col := make([]float64, len(seeds))
		for si := range seeds {
			col[si] = vecs[si][k]
		}
		iv, _ := MeanCI(col, 0.95)
		r.Weights = append(r.Weights, WeightRow{Domain: d, Mean: iv.Mean, SD: iv.SD})
	}
	sort.SliceStable(r.Weights, func(i, j int) bool { return r.Weights[i].Mean > r.Weights[j].Mean })
	sum, n, lo := 0.0, 0, math.Inf(1)
	for i := range vecs {
		for j := i + 1; j < len(vecs); j++ {
			rho, err := Spearman(vecs[i], vecs[j])
			if err != nil || math.IsNaN(rho) {
				continue
			}
			sum, n, lo = sum+rho, n+1, math.Min(lo, rho)
		}
	}
	if n > 0 {
		r.RankCorrelation, r.MinRankCorrelation = sum/float64(n), lo
	}
	return r
}

// verdict is the plain-words line of a comparison.
func verdict(rw Row, o Options) string {
	d := rw.Diff
	s := fmt.Sprintf("%s vs %s: %+.4f [%+.4f, %+.4f], p = %.2g", rw.Run, o.Baseline, d.Diff.Mean, d.Diff.Lo, d.Diff.Hi, d.P)
	switch {
	case d.Diff.N < 2:
		s += ": one seed, no interval: run more seeds before reading anything into it"
	case d.Diff.SD == 0 && d.Diff.Mean == 0:
		s += fmt.Sprintf(": identical to %s on every seed (the same mixture?)", o.Baseline)
	case d.P <= o.Alpha && d.Diff.Mean > 0:
		s += fmt.Sprintf(": better than %s at this scale", o.Baseline)
	case d.P <= o.Alpha:
		s += fmt.Sprintf(": worse than %s at this scale", o.Baseline)
	default:
		s += fmt.Sprintf(": no evidence of a difference at this scale (it would take about %.4f to see one)", rw.MDE)
	}
	if f, ok := o.Records[rw.Run]; ok {
		s += fmt.Sprintf("; %.0f%% of the records", 100*f)
	}
	return s
}

// Markdown renders the report: the answer first (every run against the
// baseline with intervals and verdicts), then per-set rows, then the
// weights' stability.
func (r *Report) Markdown() string {
	var b strings.Builder
	level := fmt.Sprintf("%.0f%%", 100*r.Options.Level)
	fmt.Fprintf(&b, "Mean %s over %d evaluation sets, %d seeds (%s); differences against %s paired by seed, %s t intervals, paired t-test.\n\n",
		r.Measure, len(r.Sets), len(r.Seeds), seedList(r.Seeds), r.Options.Baseline, level)
	fmt.Fprintf(&b, "| run | mean [%s] | difference [%s] | p | MDE (80%% power) |\n|---|---:|---:|---:|---:|\n", level, level)
	fmt.Fprintf(&b, "| %s | %s | — | — | — |\n", r.Baseline.Run, ivText(r.Baseline.Mean))
	for _, rw := range r.Runs {
		fmt.Fprintf(&b, "| %s | %s | %+.4f [%+.4f, %+.4f] | %s | %s |\n", rw.Run, ivText(rw.Mean), rw.Diff.Diff.Mean, rw.Diff.Diff.Lo, rw.Diff.Diff.Hi, pText(rw.Diff.P, rw.Diff.Diff.N), num(rw.MDE))
	}
	b.WriteString("\n")
	for _, rw := range r.Runs {
		fmt.Fprintf(&b, "- %s\n", rw.Verdict)
	}
	fmt.Fprintf(&b, "\nPer set: mean over seeds [%s]; Δ is the mean over queries of the seed-averaged difference; p from a paired t-test over queries, Holm-corrected within each run.\n\n", level)
	b.WriteString("| run | set | mean | Δ | p | p (Holm) |\n|---|---|---:|---:|---:|---:|\n")
	for _, s := range r.PerSet {
		fmt.Fprintf(&b, "| %s | %s | %s | %+.4f | %.2g | %.2g |\n", s.Run, s.Set, ivText(s.Mean), s.Diff, s.P, s.Holm)
	}
	for _, l := range r.Learned {
		fmt.Fprintf(&b, "\n%s's weights across seeds (mean ± sd); rank correlation between seeds: mean %s, min %s.\n", l.Learner, num(l.RankCorrelation), num(l.MinRankCorrelation))
		if l.RankCorrelation < 0.5 {
			b.WriteString("The ranking is not stable across seeds: a top-k selection from one seed is choosing partly by chance.\n")
		}
		b.WriteString("\n| domain | weight | sd |\n|---|---:|---:|\n")
		for _, w := range l.Weights {
			fmt.Fprintf(&b, "| %s | %.4f | %.4f |\n", w.Domain, w.Mean, w.SD)
		}
	}
	return b.String()
}

func ivText(iv Interval) string {
	if iv.N < 2 {
		return fmt.Sprintf("%.4f", iv.Mean)
	}
	return fmt.Sprintf("%.4f [%.4f, %.4f]", iv.Mean, iv.Lo, iv.Hi)
}

func pText(p float64, n int) string {
	if n < 2 {
		return "—"
	}
	return fmt.Sprintf("%.2g", p)
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.4f", v)
}

func seedList(seeds []uint64) string {
	s := make([]string, len(seeds))
	for i, v := range seeds {
		s[i] = fmt.Sprint(v)
	}
	return "seeds " + strings.Join(s, ", ")
}
