package pipeline

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The executors: one stage graph, two ways to run it.
const (
	ExecutorLocal = "local" // every stage in turn, in this process (the default)
	ExecutorSlurm = "slurm" // every stage a Slurm job, with the stages it needs as dependencies
)

// ExecutorConfig says how the run's stages are executed. The settings past
// Kind size and place the Slurm jobs; they change no stage's result.
type ExecutorConfig struct {
	Kind      string `json:"kind,omitempty"`      // local (default) or slurm
	Partition string `json:"partition,omitempty"` // sbatch --partition
	Account   string `json:"account,omitempty"`   // sbatch --account
	// Resources are per stage kind (base, prepare, train, dro, transfer,
	// eval, report, study) or per stage name without its seed
	// ("train-reference", "eval-bm25"); "default" covers the rest. The
	// stage name is looked up first, then its kind, then "default".
	Resources map[string]Resources `json:"resources,omitempty"`
	// Sbatch are more sbatch options for every job, e.g. "--qos=long".
	Sbatch []string `json:"sbatch,omitempty"`
	// Setup are shell lines every job runs first, e.g.
	// "module load cuda/12" or "export GOMLX_BACKEND=xla:cuda".
	Setup []string `json:"setup,omitempty"`
	// SignalSeconds is how long before its time limit a job is warned
	// (SIGUSR1): the stage saves a checkpoint and the job requeues itself,
	// continuing where it stopped. Default 120.
	SignalSeconds int `json:"signal_seconds,omitempty"`
}

// Resources are one job's sbatch resources; zero values leave the
// cluster's defaults.
type Resources struct {
	CPUs int    `json:"cpus,omitempty"` // --cpus-per-task
	Mem  string `json:"mem,omitempty"`  // --mem, e.g. 16G
	Time string `json:"time,omitempty"` // --time, e.g. 4:00:00 or 1-00:00:00
	GPUs int    `json:"gpus,omitempty"` // --gres=gpu:N
}

var (
	memFormat  = regexp.MustCompile(`^[0-9]+[KMGT]?$`)
	timeFormat = regexp.MustCompile(`^([0-9]+-)?[0-9]+(:[0-9]{2}){0,2}$`)
)

// problems lists what is wrong with the executor settings.
func (x ExecutorConfig) problems() []string {
	var errs []string
	switch x.Kind {
	case "", ExecutorLocal, ExecutorSlurm:
	default:
		errs = append(errs, fmt.Sprintf("executor.kind: unknown %q (want %s or %s)", x.Kind, ExecutorLocal, ExecutorSlurm))
	}
	if x.SignalSeconds < 0 {
		errs = append(errs, fmt.Sprintf("executor.signal_seconds: must be >= 0, got %d", x.SignalSeconds))
	}
	for key, r := range x.Resources {
		kind, _, _ := strings.Cut(key, "-")
		if key != "default" && !slices.Contains(StageKinds, kind) {
			errs = append(errs, fmt.Sprintf("executor.resources: %q is neither \"default\", a stage kind (%s) nor a stage name", key, strings.Join(StageKinds, ", ")))
		}
		if r.CPUs < 0 || r.GPUs < 0 {
			errs = append(errs, fmt.Sprintf("executor.resources.%s: cpus and gpus must be >= 0", key))
		}
		if r.Mem != "" && !memFormat.MatchString(r.Mem) {
			errs = append(errs, fmt.Sprintf("executor.resources.%s.mem: %q is not a size like 16G", key, r.Mem))
		}
		if r.Time != "" && !timeFormat.MatchString(r.Time) {
			errs = append(errs, fmt.Sprintf("executor.resources.%s.time: %q is not a time like 4:00:00 or 1-00:00:00", key, r.Time))
		}
	}
	return errs
}

// resources are the resources of stage st: by its name without the seed,
// then by its kind, then "default".
func (x ExecutorConfig) resources(st Stage) Resources {
	for _, key := range []string{strings.TrimPrefix(st.Name, st.prefix), st.Kind, "default"} {
		if r, ok := x.Resources[key]; ok {
			return r
		}
	}
	return Resources{}
}

// sbatchOptions are the options of a job with resources r.
func (x ExecutorConfig) sbatchOptions(r Resources) []string {
	signal := x.SignalSeconds
	if signal == 0 {
		signal = 120
	}
	opts := []string{"--requeue", fmt.Sprintf("--signal=B:USR1@%d", signal)}
	add := func(ok bool, format string, v any) {
		if ok {
			opts = append(opts, fmt.Sprintf(format, v))
		}
	}
	add(x.Partition != "", "--partition=%s", x.Partition)
	add(x.Account != "", "--account=%s", x.Account)
	add(r.CPUs > 0, "--cpus-per-task=%d", r.CPUs)
	add(r.Mem != "", "--mem=%s", r.Mem)
	add(r.Time != "", "--time=%s", r.Time)
	add(r.GPUs > 0, "--gres=gpu:%d", r.GPUs)
	return append(opts, x.Sbatch...)
}
