package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/dro"
	"github.com/tdro/tdro/dro/plot"
	"github.com/tdro/tdro/internal/atomicfile"
	"github.com/tdro/tdro/regmix"
	"github.com/tdro/tdro/study"
	"github.com/tdro/tdro/train"
)

// RegMixConfig are the settings of the regmix learner (RegMix, Liu et al.
// 2025): Runs short proxy trainings, each on its own random mixture, are
// scored by in-domain retrieval on records held out of every domain; a
// regressor from mixture to score picks the mixture it predicts best,
// which the transfer strategies use as they use tDRO's weights. The score
// never looks at the evaluation sets. Zero fields take the defaults in
// parentheses.
type RegMixConfig struct {
	Runs       int     `json:"runs,omitempty"`               // proxy runs (16)
	Steps      int     `json:"steps,omitempty"`              // training steps of each proxy run, the train recipe otherwise (a quarter of train.steps)
	Alpha      float64 `json:"alpha,omitempty"`              // Dirichlet concentration of the random mixtures around uniform (1: uniform on the simplex)
	Regressor  string  `json:"regressor,omitempty"`          // trees (gradient-boosted) or linear (trees)
	HeldOut    int     `json:"heldout_per_domain,omitempty"` // records per domain held out of the proxies' training to score them (16)
	Candidates int     `json:"candidates,omitempty"`         // random mixtures the regressor ranks (100000)
	Top        int     `json:"top,omitempty"`                // the best predicted of them, averaged into the answer (100)
}

// regmix is the run's RegMix settings with the defaults filled in.
func (c *Config) regmix() RegMixConfig {
	var r RegMixConfig
	if c.RegMix != nil {
		r = *c.RegMix
	}
	return r.resolved(c.Train)
}

// resolved fills the defaults.
func (r RegMixConfig) resolved(tr train.Recipe) RegMixConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&r.Runs, 16)
	def(&r.Steps, max(tr.Steps/4, 1))
	def(&r.HeldOut, 16)
	def(&r.Candidates, 100000)
	def(&r.Top, 100)
	if r.Alpha == 0 {
		r.Alpha = 1
	}
	if r.Regressor == "" {
		r.Regressor = regmix.RegressorTrees
	}
	return r
}

func (r *RegMixConfig) problems() []string {
	if r == nil {
		return nil
	}
	var errs []string
	for field, v := range map[string]int{"runs": r.Runs, "steps": r.Steps, "heldout_per_domain": r.HeldOut, "candidates": r.Candidates, "top": r.Top} {
		if v < 0 {
			errs = append(errs, fmt.Sprintf("regmix.%s: must be >= 0, got %d", field, v))
		}
	}
	if r.Runs == 1 {
		errs = append(errs, "regmix.runs: a regression needs at least 2 proxy runs")
	}
	if r.Alpha < 0 {
		errs = append(errs, fmt.Sprintf("regmix.alpha: must be > 0, got %v", r.Alpha))
	}
	if r.Regressor != "" && !slices.Contains(regmix.Regressors, r.Regressor) {
		errs = append(errs, fmt.Sprintf("regmix.regressor: unknown %q (want one of %v)", r.Regressor, regmix.Regressors))
	}
	slices.Sort(errs)
	return errs
}

// The RegMix paths: the split of the prepared data (train/: records less
// the held-out ones, and their mixture; dev/: the held-out records), one
// result per proxy run, and the fit.
const (
	splitDir     = "regmix/split"
	proxyResults = "regmix/runs"
	fitFile      = "regmix/fit.json"
	splitStage   = "regmix-split"
)

func proxyName(i int) string { return fmt.Sprintf("regmix-%02d", i) }

// ProxyResult is one RegMix proxy run: its mixture and the held-out score.
type ProxyResult struct {
	Run       int                `json:"run"`
	Weights   map[string]float64 `json:"weights"`
	Score     float64            `json:"score"`      // mean over domains of held-out nDCG@10
	PerDomain map[string]float64 `json:"per_domain"` // held-out nDCG@10 per domain
}

// regmixStages are the regmix learner's stage 1: the held-out split, the
// proxy runs (independent: a job array on a cluster) and the fit, which
// writes the same weights files as tDRO's stage.
func regmixStages(opt Options) ([]Stage, error) {
	cfg := opt.Config
	rc := cfg.regmix()
	base, baseStage, inputs, err := start(opt, LearnerRegMix)
	if err != nil {
		return nil, err
	}
	stages := []Stage{splitStageFor(opt, rc)}
	recipe := withSteps(cfg.Train, rc.Steps)
	after := []string{splitStage}
	if baseStage != "" {
		after = append([]string{baseStage}, after...)
	}
	var names []string
	for i := range rc.Runs {
		name := proxyName(i)
		names = append(names, name)
		tc := train.Config{Model: base, Recipe: recipe, Seed: cfg.Seed}
		stages = append(stages, Stage{
			Name: name, Kind: KindProxy, After: after, Inputs: inputs, Label: "RegMix proxy runs", Flow: []string{splitStage}, Group: "regmix proxies",
			Config: struct {
				Train train.Config
				Run   int
				Alpha float64
				Eval  any
			}{tc, i, rc.Alpha, evalKey(opt)},
			Outputs: []string{filepath.Join(proxyResults, name+".json")},
			Scratch: []string{checkpointDir(name), filepath.Join(proxyResults, name)},
			Run: func(ctx context.Context, s *Step) error {
				mix, err := data.LoadMixture(s.Path(splitDir, "train", "mixture.json"))
				if err != nil {
					return err
				}
				rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1))
				w := regmix.Sample(rng, 1, uniformPrior(len(mix.Domains)), rc.Alpha)[0]
				res := ProxyResult{Run: i, Weights: map[string]float64{}}
				for j := range mix.Domains {
					mix.Domains[j].Weight = w[j]
					res.Weights[mix.Domains[j].Name] = w[j]
				}
				mixPath := s.Path(proxyResults, name, "mixture.json")
				if err := os.MkdirAll(filepath.Dir(mixPath), 0o755); err != nil {
					return err
				}
				if err := mix.Save(mixPath); err != nil {
					return err
				}
				c := tc
				c.Mixture, c.Out = mixPath, s.Path(checkpointDir(name))
				tr, err := train.Run(ctx, c, s.Resume)
				if err != nil {
					return err
				}
				if res.Score, res.PerDomain, err = heldOutScore(ctx, tr.Model, s.Path(splitDir, "dev"), mix, evalOptions(opt, name)); err != nil {
					return err
				}
				s.Logf("mixture %s: held-out nDCG@10 %.4f", formatWeights(mix, w), res.Score)
				return atomicfile.WriteJSON(s.Path(proxyResults, name+".json"), res)
			},
		})
	}
	return append(stages, regmixFitStage(opt, rc, names)), nil
}

// splitStageFor holds heldout records of every prepared domain out of the
// proxies' training (a seeded choice), to score them.
func splitStageFor(opt Options, rc RegMixConfig) Stage {
	cfg := opt.Config
	mixture, mixtureStage := cfg.trainingMixture()
	return Stage{
		Name: splitStage, Kind: KindPrepare, After: []string{mixtureStage}, Label: "held-out split", Flow: []string{mixtureStage},
		Config: struct {
			HeldOut int
			Seed    uint64
		}{rc.HeldOut, cfg.Seed},
		Outputs: []string{splitDir},
		Run: func(ctx context.Context, s *Step) error {
			mix, err := data.LoadMixture(s.Path(mixture))
			if err != nil {
				return err
			}
			trainDir := s.Path(splitDir, "train")
			if err := holdOut(mix, rc.HeldOut, cfg.Seed, trainDir, s.Path(splitDir, "dev"), "regmix.heldout_per_domain"); err != nil {
				return err
			}
			s.Logf("held out %d records of each of %d domains", rc.HeldOut, len(mix.Domains))
			return mix.Save(filepath.Join(trainDir, "mixture.json"))
		},
	}
}

// Fit is what the RegMix fit stage found (regmix/fit.json).
type Fit struct {
	Regressor string             `json:"regressor"`
	Runs      []ProxyResult      `json:"runs"`
	Weights   map[string]float64 `json:"weights"`   // the answer
	Predicted float64            `json:"predicted"` // its predicted held-out score
	BestRun   float64            `json:"best_run"`  // the best proxy run's score
	// LeaveOneOut is the rank correlation between each run's score and its
	// prediction by a fit on the other runs: near 0, the regression has
	// found no signal and the answer is noise.
	LeaveOneOut float64 `json:"leave_one_out_spearman"`
}

// regmixFitStage fits the regressor to the proxy runs and writes its best
// mixture as the stage-1 weights (curr = mean = ema), with a bar chart of
// them and the answer's path as proxy runs are added.
func regmixFitStage(opt Options, rc RegMixConfig, proxies []string) Stage {
	cfg := opt.Config
	out := cfg.learnerDir(LearnerRegMix)
	return Stage{
		Name: cfg.learnerStage(LearnerRegMix), Kind: KindDRO, After: append([]string{"prepare"}, proxies...), Label: "1: RegMix weights", Flow: proxies[:1],
		Config: struct {
			RegMix RegMixConfig
			Seed   uint64
		}{rc, cfg.Seed},
		Outputs: []string{filepath.Join(out, dro.WeightsDir), fitFile},
		Scratch: []string{out},
		Run: func(ctx context.Context, s *Step) error {
			mix, err := data.LoadMixture(s.Path(mixtureFile))
			if err != nil {
				return err
			}
			var names []string
			var sizes []int
			for _, d := range mix.Domains {
				names, sizes = append(names, d.Name), append(sizes, d.Records)
			}
			fit := Fit{Regressor: rc.Regressor, BestRun: -1}
			var obs []regmix.Observation
			for _, p := range proxies {
				var r ProxyResult
				b, err := os.ReadFile(s.Path(proxyResults, p+".json"))
				if err == nil {
					err = json.Unmarshal(b, &r)
				}
				if err != nil {
					return fmt.Errorf("proxy run %s: %w", p, err)
				}
				w := make([]float64, len(names))
				for j, n := range names {
					w[j] = r.Weights[n]
				}
				fit.Runs = append(fit.Runs, r)
				fit.BestRun = max(fit.BestRun, r.Score)
				obs = append(obs, regmix.Observation{Weights: w, Score: r.Score})
			}
			answer := func(obs []regmix.Observation) ([]float64, float64, error) {
				reg, err := regmix.Fitted(rc.Regressor, obs)
				if err != nil {
					return nil, 0, err
				}
				w, pred := regmix.Best(reg, rand.New(rand.NewPCG(cfg.Seed, 0)), uniformPrior(len(names)), rc.Alpha, rc.Candidates, rc.Top)
				return w, pred, nil
			}
			best, pred, err := answer(obs)
			if err != nil {
				return err
			}
			fit.Predicted, fit.Weights = pred, map[string]float64{}
			for j, n := range names {
				fit.Weights[n] = best[j]
			}
			if fit.LeaveOneOut, err = leaveOneOut(rc.Regressor, obs); err != nil {
				return err
			}
			s.Logf("%s fit on %d proxy runs (best run %.4f): predicted %.4f for %s; leave-one-out Spearman %.2f",
				rc.Regressor, len(obs), fit.BestRun, pred, formatWeights(mix, best), fit.LeaveOneOut)
			if err := dro.SaveWeights(s.Path(out, dro.WeightsDir), names, map[string][]float64{dro.SelectCurr: best, dro.SelectMean: best, dro.SelectEMA: best}, sizes, cfg.DRO.SelectFrom); err != nil {
				return err
			}
			// The answer as proxy runs are added: how settled it is.
			steps, path := []int{}, [][]float64{}
			for k := 2; k <= len(obs); k++ {
				w, _, err := answer(obs[:k])
				if err != nil {
					return err
				}
				steps, path = append(steps, k), append(path, w)
			}
			dir := s.Path(out, dro.PlotsDir)
			if err := plot.Trajectories(filepath.Join(dir, dro.PlotSteps), "RegMix weights by proxy runs fitted", names, steps, path); err != nil {
				return err
			}
			if err := plot.Bars(filepath.Join(dir, dro.PlotFinal), fmt.Sprintf("RegMix weights from %d proxy runs", len(obs)), names, best); err != nil {
				return err
			}
			return atomicfile.WriteJSON(s.Path(fitFile), fit)
		},
	}
}

// leaveOneOut is the Spearman correlation of the runs' scores with their
// predictions by fits on the other runs.
func leaveOneOut(regressor string, obs []regmix.Observation) (float64, error) {
	if len(obs) < 4 {
		return 0, nil
	}
	pred, got := make([]float64, len(obs)), make([]float64, len(obs))
	for i := range obs {
		rest := append(slices.Clone(obs[:i]), obs[i+1:]...)
		reg, err := regmix.Fitted(regressor, rest)
		if err != nil {
			return 0, err
		}
		pred[i], got[i] = reg.Predict(obs[i].Weights), obs[i].Score
	}
	rho, err := study.Spearman(pred, got)
	if err != nil {
		return 0, nil // constant scores or predictions: no rank correlation
	}
	return rho, nil
}

func uniformPrior(k int) []float64 {
	p := make([]float64, k)
	for i := range p {
		p[i] = 1 / float64(k)
	}
	return p
}

// formatWeights prints the three heaviest domains of a mixture.
func formatWeights(mix *data.Mixture, w []float64) string {
	order := make([]int, len(w))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case w[a] > w[b]:
			return -1
		case w[a] < w[b]:
			return 1
		}
		return 0
	})
	s := ""
	for n, i := range order[:min(3, len(order))] {
		if n > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %.2f", mix.Domains[i].Name, w[i])
	}
	if len(order) > 3 {
		s += ", ..."
	}
	return s
}
