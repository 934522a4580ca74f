package pipeline

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/tdro/tdro/internal/atomicfile"
)

// The run directory:
//
//	config.json           the resolved configuration of the latest invocation
//	data/                 prepared records, one JSONL per domain, and mixture.json (uniform)
//	checkpoints/NAME/     resumable training state of a stage (removed when its inputs change)
//	models/NAME/          trained models as Hugging Face checkpoints: reference (= uniform), one per mixture
//	dro/                  learned weights (official tDRO JSON: curr, mean, ema, topNN) and their plots
//	mixtures/             the transferred fine-tuning mixtures and stats.json (records/tokens per mixture)
//	logs/                 NAME.jsonl per-step training logs, NAME.log what each stage printed
//	eval/NAME/            evaluation JSON (and run files) per model and for BM25
//	plots/                the report's own figures (loss curves)
//	manifests/            one manifest per completed stage
//	report.md, report.html
const (
	dataDir      = "data"
	mixtureFile  = "data/mixture.json"
	mixturesDir  = "mixtures"
	droDir       = "dro"
	plotsDir     = "plots"
	referenceRun = "reference"
	baseRun      = "base"
)

func modelDir(name string) string      { return filepath.Join("models", name) }
func checkpointDir(name string) string { return filepath.Join("checkpoints", name) }
func trainLog(name string) string      { return filepath.Join("logs", name+".jsonl") }
func evalDir(name string) string       { return filepath.Join("eval", name) }
func mixturePath(name string) string   { return filepath.Join(mixturesDir, name+".json") }

// Options is one invocation of `tdro run`.
type Options struct {
	Config     *Config
	ConfigName string    // how the config was chosen, for the report
	Command    string    // the command line, for the report
	Data       string    // bundled data directory (training sources, evaluation sets, tokenizers)
	Out        string    // run directory
	Force      []string  // stages to rerun even when up to date
	Until      []string  // run only these stages and what they need (empty: all)
	Log        io.Writer // nil: stderr
}

// Run executes the pipeline in opt.Out; rerunning it resumes.
func Run(ctx context.Context, opt Options) ([]Result, error) {
	if err := Check(opt); err != nil {
		return nil, err
	}
	stages, err := Stages(opt)
	if err != nil {
		return nil, err
	}
	e := &Engine{Dir: opt.Out, Log: opt.Log, Force: opt.Force, Setup: func() error { return writeConfig(opt) }}
	return e.Run(ctx, stages)
}

// writeConfig records the resolved configuration of this invocation in the
// run directory (both executors).
func writeConfig(opt Options) error {
	return atomicfile.WriteJSON(filepath.Join(opt.Out, "config.json"), opt.Config)
}

// Summary is the closing message of a run: what ran and where the report is.
func Summary(dir string, res []Result) string {
	var b strings.Builder
	total, cpu := 0.0, 0.0
	for _, r := range res {
		fmt.Fprintf(&b, "  %-20s %-8s %8s   CPU %8s\n", r.Stage, r.Status, FormatSeconds(r.Manifest.Seconds), FormatSeconds(r.Manifest.CPUSeconds))
		total += r.Manifest.Seconds
		cpu += r.Manifest.CPUSeconds
	}
	fmt.Fprintf(&b, "stages total %s (CPU %s); report: %s", FormatSeconds(total), FormatSeconds(cpu), filepath.Join(dir, "report.html"))
	return b.String()
}
