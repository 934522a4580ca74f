package pipeline

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tdro/tdro/dro"
)

// The weight learners a run can compare. tdro and doremi step with a proxy
// against the frozen reference (dro.RegisterLearner); regmix fits proxy
// runs on random mixtures (RegMixConfig); odm learns no stage-1 weights but
// adapts the uniform mixture while it fine-tunes (a transfer entry).
const (
	LearnerTDRO   = dro.LearnerTDRO
	LearnerDoReMi = dro.LearnerDoReMi
	LearnerRegMix = "regmix"
	LearnerODM    = "odm"
)

// The loss-measure ablation (the paper's Table 5): tDRO with DoReMi's
// excess loss or GroupDRO's raw proxy loss in place of dro.measure.
const (
	LearnerTDROExcess = LearnerTDRO + "-" + string(dro.Excess)
	LearnerTDRORaw    = LearnerTDRO + "-" + string(dro.Raw)
)

// Learners lists the names "learners" and a transfer entry's "learner" take.
var Learners = []string{LearnerTDRO, LearnerDoReMi, LearnerRegMix, LearnerODM, LearnerTDROExcess, LearnerTDRORaw}

// stepLearner is the dro learner and measure a step learner's name stands
// for: "tdro-excess" is tDRO measuring excess loss; other names keep the
// recipe's measure.
func stepLearner(name string, recipe dro.Recipe) (learner string, measure dro.Measure) {
	if m, ok := strings.CutPrefix(name, LearnerTDRO+"-"); ok {
		return LearnerTDRO, dro.Measure(m)
	}
	return name, recipe.Measure
}

// primaryLearner is the learner of the "dro" stage (dro.learner): its
// weights are in dro/, its mixtures keep the transfer entries' names.
func (c *Config) primaryLearner() string { return c.DRO.Learner }

// learnerOf is the learner whose weights a transfer entry uses.
func (c *Config) learnerOf(t TransferConfig) string {
	if t.Learner == "" {
		return c.primaryLearner()
	}
	return t.Learner
}

// weightBased says whether a strategy turns learned weights into a mixture.
func weightBased(s dro.Strategy) bool {
	return s != dro.Proportional && s != dro.Temperature && s != StrategyODM
}

// transfers are the stage-2 runs: the transfer entries and, for every
// learner of "learners" other than dro.learner, a copy of each
// weight-based entry named LEARNER-NAME that uses that learner's weights;
// "odm" adds an online-mixing run unless one is listed.
func (c *Config) transfers() []TransferConfig {
	out := slices.Clone(c.Transfer)
	for _, l := range c.Learners {
		switch {
		case l == LearnerODM:
			if !slices.ContainsFunc(out, func(t TransferConfig) bool { return t.Strategy == StrategyODM }) {
				out = append(out, TransferConfig{Name: LearnerODM, Strategy: StrategyODM, ODMRewardScale: 10})
			}
		case l != c.primaryLearner():
			for _, t := range c.Transfer {
				if weightBased(t.Strategy) && t.Learner == "" {
					t.Name, t.Learner = l+"-"+t.Name, l
					out = append(out, t)
				}
			}
		}
	}
	return out
}

// weightLearners are the learners whose stage-1 weights the run needs: the
// primary one always (the report shows it), then the others its transfers
// use, in order.
func (c *Config) weightLearners() []string {
	ls := []string{c.primaryLearner()}
	for _, t := range c.transfers() {
		if l := c.learnerOf(t); weightBased(t.Strategy) && !slices.Contains(ls, l) {
			ls = append(ls, l)
		}
	}
	return ls
}

// learnerDir is where a learner's stage-1 output goes (weights/ and plots/
// inside it), and learnerStage the stage that writes its weights.
func (c *Config) learnerDir(l string) string {
	if l == c.primaryLearner() {
		return droDir
	}
	return droDir + "-" + l
}

func (c *Config) learnerStage(l string) string {
	if l == c.primaryLearner() {
		return "dro"
	}
	return "dro-" + l
}

// learnerWeights is the weights file transfer reads for learner l.
func (c *Config) learnerWeights(l string) string {
	return filepath.Join(c.learnerDir(l), weightsFile(c.DRO.SelectFrom))
}

// learnerProblems checks "learners" and the transfer entries' "learner".
func (c *Config) learnerProblems() []string {
	var errs []string
	seen := map[string]bool{}
	for _, l := range c.Learners {
		if !slices.Contains(Learners, l) {
			errs = append(errs, fmt.Sprintf("learners: unknown %q (want some of %v)", l, Learners))
		}
		if seen[l] {
			errs = append(errs, fmt.Sprintf("learners: %q is listed twice", l))
		}
		seen[l] = true
	}
	for i, t := range c.Transfer {
		switch {
		case t.Learner == "":
		case !slices.Contains(Learners, t.Learner) || t.Learner == LearnerODM:
			errs = append(errs, fmt.Sprintf("transfer[%d].learner: unknown %q (want %s, %s or %s)", i, t.Learner, LearnerTDRO, LearnerDoReMi, LearnerRegMix))
		case !weightBased(t.Strategy):
			errs = append(errs, fmt.Sprintf("transfer[%d].learner: strategy %s uses no learned weights", i, t.Strategy))
		}
	}
	if c.primaryLearner() == LearnerRegMix {
		errs = append(errs, `dro.learner: regmix is not a step learner; list it in "learners" or a transfer entry's "learner"`)
	}
	return errs
}

// learnerLabel is a learner's name in reports.
func learnerLabel(l string) string {
	switch l {
	case LearnerTDRO:
		return "tDRO"
	case LearnerTDROExcess:
		return "tDRO (excess loss)"
	case LearnerTDRORaw:
		return "tDRO (raw loss)"
	case LearnerDoReMi:
		return "DoReMi"
	case LearnerRegMix:
		return "RegMix"
	case LearnerODM:
		return "ODM"
	}
	return l
}
