// Package pipeline runs tdro's staged, resumable end-to-end job (`tdro run`):
// data prepare, reference training, tDRO, transfer, fine-tuning, evaluation
// and the report, all inside one run directory.
//
// The engine is generic: a Stage names the files it reads, the settings it
// runs with, the stages it depends on and the paths it writes. A completed
// stage leaves a manifest (manifests/NAME.json) recording the content hashes
// of its inputs and outputs, its settings, the tdro and GoMLX versions and its
// timing. A rerun skips a stage whose key (settings + input hashes + upstream
// output hashes) is unchanged, reruns one whose key changed (and, through the
// hashes, everything downstream of a changed output), and resumes a stage that
// was interrupted: such a stage finds its own checkpoint in the paths it
// declared and Step.Resume set.
package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tdro/tdro/internal/atomicfile"
)

// Stage is one step of a pipeline.
type Stage struct {
	Name    string   // unique, used for manifests/NAME.json and logs/NAME.log
	Kind    string   // the sort of work (one of StageKinds): a cluster job's resources are chosen by it
	After   []string // earlier stages whose outputs this one reads
	Inputs  []string // external files or directories it reads (content-hashed); absolute or relative to the run dir
	Config  any      // settings that change its result; hashed as JSON
	Outputs []string // paths (relative to the run dir) it writes; hashed into its manifest
	// Reads names the outputs of its After stages that it reads, where it
	// reads only some (a fine-tuning reads one of the transfer stage's
	// mixtures): an After stage with one of them among its outputs counts by
	// those alone, so that adding a mixture does not make the others stale.
	// Nil: every After stage counts by all its outputs.
	Reads   []string
	Scratch []string // other paths it owns, not hashed (checkpoints, logs, plots): kept on resume, removed when the key changes
	Run     func(ctx context.Context, s *Step) error
	// Label, Flow and Group are how the report's flow diagram draws the
	// stage: Label in its box, arrows from the Flow stages (the main data
	// flow; After also holds the inputs every stage reads), and stages
	// sharing a Group drawn as one box.
	Label string
	Flow  []string
	Group string
	// prefix is the name prefix InDir gave the stage (its group's own
	// names are resolved under it: Step.Manifest, Step.Result).
	prefix string
	// Check, when set, says whether the outputs in run directory dir load
	// (e.g. a mixture whose domain paths resolve). A stage whose outputs do
	// not load is not done: Check runs after Run, failing the stage, and
	// before a skip, running the stage again.
	Check func(dir string) error
}

// The stage kinds: what a cluster executor sizes its jobs by.
const (
	KindBase     = "base"
	KindPrepare  = "prepare"
	KindTrain    = "train"
	KindDRO      = "dro"
	KindProxy    = "proxy" // a short proxy training of a mixture learner (RegMix)
	KindTransfer = "transfer"
	KindEval     = "eval"
	KindReport   = "report"
	KindStudy    = "study"
)

// StageKinds lists every stage kind.
var StageKinds = []string{KindBase, KindPrepare, KindTrain, KindDRO, KindProxy, KindTransfer, KindEval, KindReport, KindStudy}

// Step is what a running stage sees.
type Step struct {
	Dir     string // the run directory (the stage's sub-directory of it, under InDir)
	Resume  bool   // an earlier attempt with the same key was interrupted: continue from its checkpoint
	root    string // the engine's run directory (manifests, logs)
	stage   *Stage
	log     io.Writer
	results map[string]Result // earlier stages of this invocation
}

// Manifest is the manifest of an earlier stage, named as the stage's own
// graph names it (under InDir's prefix), or nil if it has none.
func (s *Step) Manifest(stage string) (*Manifest, error) {
	return LoadManifest(s.root, s.stage.prefix+stage)
}

// Result is what this invocation did with an earlier stage, named as the
// stage's own graph names it.
func (s *Step) Result(stage string) (Result, bool) {
	r, ok := s.results[s.stage.prefix+stage]
	return r, ok
}

// Path joins rel onto the run directory.
func (s *Step) Path(rel ...string) string {
	return filepath.Join(append([]string{s.Dir}, rel...)...)
}

// Logf writes one line to the pipeline log (stderr and logs/STAGE.log).
func (s *Step) Logf(format string, args ...any) {
	fmt.Fprintf(s.log, "[%s] %s\n", s.stage.Name, fmt.Sprintf(format, args...))
}

// Log is the writer behind Logf, for stages that pass a log writer on.
func (s *Step) Log() io.Writer { return s.log }

// Manifest records one completed stage.
type Manifest struct {
	Stage       string            `json:"stage"`
	Key         string            `json:"key"`
	Config      json.RawMessage   `json:"config"`
	Inputs      map[string]string `json:"inputs"`   // path -> content hash
	Upstream    map[string]string `json:"upstream"` // stage -> its outputs hash
	Outputs     map[string]string `json:"outputs"`  // path -> content hash
	OutputsHash string            `json:"outputs_hash"`
	Versions    Versions          `json:"versions"`
	Started     time.Time         `json:"started"`
	Finished    time.Time         `json:"finished"`
	Seconds     float64           `json:"seconds"`     // wall time of the attempt that completed it
	CPUSeconds  float64           `json:"cpu_seconds"` // user+system CPU time of that attempt (the whole process: stages run one at a time)
	Resumed     bool              `json:"resumed"`     // that attempt continued an interrupted one
}

// Status says what the engine did with a stage in this invocation.
type Status string

const (
	Ran     Status = "ran"
	Resumed Status = "resumed"
	Skipped Status = "skipped"
)

// Result is one stage's outcome in this invocation.
type Result struct {
	Stage    string
	Status   Status
	Manifest *Manifest
}

// Engine runs stages in order inside one run directory.
type Engine struct {
	Dir   string       // run directory (created if missing)
	Log   io.Writer    // progress lines; nil means os.Stderr
	Force []string     // stages to rerun even when their key is unchanged (their dependants follow through the hashes)
	Setup func() error // runs once the run directory is locked, before the first stage
}

// started marks a stage in progress; its key decides between resume and restart.
type started struct {
	Key     string    `json:"key"`
	Started time.Time `json:"started"`
}

// ManifestPath is where a completed stage's manifest lives.
func ManifestPath(dir, stage string) string {
	return filepath.Join(dir, "manifests", stage+".json")
}

// LoadManifest reads a stage's manifest; a missing one is (nil, nil).
func LoadManifest(dir, stage string) (*Manifest, error) {
	var m Manifest
	if found, err := readOptionalJSON(ManifestPath(dir, stage), &m); err != nil || !found {
		return nil, err
	}
	return &m, nil
}

// Run runs the stages in order, skipping and resuming as the manifests say.
// It stops at the first error (a cancelled ctx included), leaving what is
// needed to resume; rerunning the same stages continues from there.
func (e *Engine) Run(ctx context.Context, stages []Stage) ([]Result, error) {
	if err := validate(stages); err != nil {
		return nil, err
	}
	unlock, err := e.lock(syscall.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if e.Setup != nil {
		if err := e.Setup(); err != nil {
			return nil, err
		}
	}
	done := map[string]*Manifest{}
	byName := map[string]Result{}
	var results []Result
	for i := range stages {
		st := &stages[i]
		if err := ctx.Err(); err != nil {
			return results, fmt.Errorf("interrupted before stage %s (rerun the same command to continue): %w", st.Name, err)
		}
		res, err := e.runStage(ctx, st, done, byName)
		if err != nil {
			return results, err
		}
		done[st.Name] = res.Manifest
		byName[st.Name] = res
		results = append(results, res)
	}
	return results, nil
}

// RunStage runs the one stage called name, as a cluster job does: the
// stages it needs must be done (their manifests are read from the run
// directory), and other stages may run at the same time in other
// processes. Like Run, it skips the stage when it is up to date and resumes
// an interrupted attempt.
func (e *Engine) RunStage(ctx context.Context, stages []Stage, name string) (Result, error) {
	if err := validate(stages); err != nil {
		return Result{}, err
	}
	i := slices.IndexFunc(stages, func(st Stage) bool { return st.Name == name })
	if i < 0 {
		return Result{}, fmt.Errorf("pipeline: the run has no stage %s", name)
	}
	st := &stages[i]
	unlock, err := e.lock(syscall.LOCK_SH)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	unlockStage, err := lockFile(filepath.Join(e.Dir, "manifests", name+".lock"), syscall.LOCK_EX,
		fmt.Sprintf("stage %s is running in another process", name))
	if err != nil {
		return Result{}, err
	}
	defer unlockStage()
	done := map[string]*Manifest{}
	for _, a := range st.After {
		m, err := LoadManifest(e.Dir, a)
		if err != nil {
			return Result{}, fmt.Errorf("stage %s: %w", name, err)
		}
		if m == nil {
			return Result{}, fmt.Errorf("stage %s needs stage %s, which has not finished", name, a)
		}
		done[a] = m
	}
	return e.runStage(ctx, st, done, nil)
}

// lock takes the run directory's lock: exclusive for a whole run in one
// process, shared for one stage of a run whose stages run as separate jobs.
func (e *Engine) lock(how int) (func(), error) {
	if err := os.MkdirAll(filepath.Join(e.Dir, "manifests"), 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	return lockFile(filepath.Join(e.Dir, ".lock"), how, fmt.Sprintf("run directory %s is in use by another tdro run", e.Dir))
}

// expect is the manifest a run of st would start from: its settings, the
// hashes of its inputs and of its upstream stages' outputs, and the key
// they make.
func (e *Engine) expect(st *Stage, done map[string]*Manifest) (*Manifest, error) {
	m := &Manifest{Stage: st.Name, Inputs: map[string]string{}, Upstream: map[string]string{}, Versions: CurrentVersions()}
	var err error
	if m.Config, err = json.Marshal(st.Config); err != nil {
		return nil, fmt.Errorf("stage %s: encode config: %w", st.Name, err)
	}
	for _, name := range st.After {
		m.Upstream[name] = readHash(done[name], st.Reads)
	}
	for _, in := range st.Inputs {
		if m.Inputs[in], err = HashPath(e.abs(in)); err != nil {
			return nil, fmt.Errorf("stage %s: input: %w", st.Name, err)
		}
	}
	m.Key = stageKey(m)
	return m, nil
}

// upToDate returns the manifest of st's last completed run when it still
// holds: the same key, not forced, its outputs as recorded and, with a
// Check, loading. why says what made a recorded run stale when its outputs
// do not load ("" otherwise).
func (e *Engine) upToDate(st *Stage, key string) (old *Manifest, why string, err error) {
	old, err = LoadManifest(e.Dir, st.Name)
	if err != nil || old == nil || old.Key != key || contains(e.Force, st.Name) || !e.outputsIntact(old) {
		return nil, "", err
	}
	if st.Check != nil {
		if err := st.Check(e.Dir); err != nil {
			return nil, fmt.Sprintf("recorded as done, but its outputs do not load (%v)", err), nil
		}
	}
	return old, "", nil
}

func (e *Engine) runStage(ctx context.Context, st *Stage, done map[string]*Manifest, results map[string]Result) (Result, error) {
	logw := e.Log
	if logw == nil {
		logw = os.Stderr
	}
	m, err := e.expect(st, done)
	if err != nil {
		return Result{}, err
	}
	old, why, err := e.upToDate(st, m.Key)
	if err != nil {
		return Result{}, fmt.Errorf("stage %s: %w", st.Name, err)
	}
	if old != nil {
		fmt.Fprintf(logw, "[%s] up to date (inputs unchanged since %s), skipped\n", st.Name, old.Finished.Format(time.RFC3339))
		return Result{Stage: st.Name, Status: Skipped, Manifest: old}, nil
	}
	if why != "" {
		fmt.Fprintf(logw, "[%s] %s: running it again\n", st.Name, why)
	}

	markPath := startedPath(e.Dir, st.Name)
	var mark started
	resume := false
	if b, err := os.ReadFile(markPath); err == nil && json.Unmarshal(b, &mark) == nil && mark.Key == m.Key && !contains(e.Force, st.Name) {
		resume = true
	}
	// A stage about to run owns its outputs: no stale manifest may survive
	// an interruption, and a changed key must not resume a stale checkpoint.
	if err := os.Remove(ManifestPath(e.Dir, st.Name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Result{}, fmt.Errorf("stage %s: %w", st.Name, err)
	}
	// A resumed stage keeps its paths but not the temporaries a kill left in
	// and beside them; a fresh attempt starts from nothing.
	for _, p := range append(append([]string{}, st.Outputs...), st.Scratch...) {
		err := removeTemps(e.abs(p))
		if err == nil && !resume {
			err = os.RemoveAll(e.abs(p))
		}
		if err != nil {
			return Result{}, fmt.Errorf("stage %s: clear %s: %w", st.Name, p, err)
		}
	}
	if !resume {
		if err := atomicfile.WriteJSON(markPath, started{Key: m.Key, Started: time.Now().UTC()}); err != nil {
			return Result{}, fmt.Errorf("stage %s: %w", st.Name, err)
		}
	}

	stageLog, err := openLog(filepath.Join(e.Dir, "logs", st.Name+".log"))
	if err != nil {
		return Result{}, fmt.Errorf("stage %s: %w", st.Name, err)
	}
	defer stageLog.Close()
	step := &Step{Dir: e.Dir, root: e.Dir, Resume: resume, stage: st, log: io.MultiWriter(logw, stageLog), results: results}
	if resume {
		step.Logf("resuming the interrupted attempt started %s", mark.Started.Format(time.RFC3339))
	} else {
		step.Logf("running")
	}
	m.Started = time.Now().UTC()
	cpu0 := cpuSeconds()
	if err := st.Run(ctx, step); err != nil {
		if ctx.Err() != nil {
			step.Logf("interrupted: %v (rerun the same command to resume)", err)
			return Result{}, fmt.Errorf("stage %s interrupted (rerun to resume): %w", st.Name, err)
		}
		step.Logf("failed: %v", err)
		return Result{}, fmt.Errorf("stage %s: %w", st.Name, err)
	}
	if st.Check != nil {
		if err := st.Check(e.Dir); err != nil {
			step.Logf("failed: its outputs do not load: %v", err)
			return Result{}, fmt.Errorf("stage %s: its outputs do not load: %w", st.Name, err)
		}
	}
	m.Finished = time.Now().UTC()
	m.Seconds = m.Finished.Sub(m.Started).Seconds()
	m.CPUSeconds = cpuSeconds() - cpu0
	m.Resumed = resume
	if m.Outputs, m.OutputsHash, err = e.hashOutputs(st.Outputs); err != nil {
		return Result{}, fmt.Errorf("stage %s: %w", st.Name, err)
	}
	if err := atomicfile.WriteJSON(ManifestPath(e.Dir, st.Name), m); err != nil {
		return Result{}, fmt.Errorf("stage %s: %w", st.Name, err)
	}
	os.Remove(markPath)
	step.Logf("done in %s (CPU %s)", FormatSeconds(m.Seconds), FormatSeconds(m.CPUSeconds))
	status := Ran
	if resume {
		status = Resumed
	}
	return Result{Stage: st.Name, Status: status, Manifest: m}, nil
}

// stageKey hashes everything that decides a stage's result.
func stageKey(m *Manifest) string {
	b, _ := json.Marshal(struct {
		Stage    string
		Config   json.RawMessage
		Inputs   map[string]string
		Upstream map[string]string
	}{m.Stage, m.Config, m.Inputs, m.Upstream})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// readHash is what an upstream stage's outputs contribute to a stage's key:
// the hash of the ones in reads when it has any of them, else all of them.
func readHash(up *Manifest, reads []string) string {
	sub := map[string]string{}
	for _, p := range reads {
		if h, ok := up.Outputs[p]; ok {
			sub[p] = h
		}
	}
	if len(sub) == 0 {
		return up.OutputsHash
	}
	b, _ := json.Marshal(sub) // map keys are sorted: stable
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (e *Engine) hashOutputs(outputs []string) (map[string]string, string, error) {
	hashes := map[string]string{}
	for _, p := range outputs {
		h, err := HashPath(e.abs(p))
		if err != nil {
			return nil, "", fmt.Errorf("output: %w", err)
		}
		hashes[p] = h
	}
	b, _ := json.Marshal(hashes) // map keys are sorted: stable
	sum := sha256.Sum256(b)
	return hashes, hex.EncodeToString(sum[:]), nil
}

// outputsIntact reports whether a completed stage's outputs are still what
// its manifest recorded (a user may have deleted or edited them).
func (e *Engine) outputsIntact(m *Manifest) bool {
	for p, want := range m.Outputs {
		if got, err := HashPath(e.abs(p)); err != nil || got != want {
			return false
		}
	}
	return true
}

func (e *Engine) abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(e.Dir, p)
}

func validate(stages []Stage) error {
	seen := map[string]bool{}
	for _, st := range stages {
		if st.Name == "" || strings.ContainsAny(st.Name, `/\ `) {
			return fmt.Errorf("pipeline: bad stage name %q", st.Name)
		}
		if seen[st.Name] {
			return fmt.Errorf("pipeline: stage %s listed twice", st.Name)
		}
		if st.Run == nil {
			return fmt.Errorf("pipeline: stage %s has no Run", st.Name)
		}
		for _, a := range st.After {
			if !seen[a] {
				return fmt.Errorf("pipeline: stage %s depends on %s, which does not come before it", st.Name, a)
			}
		}
		for _, p := range append(append([]string{}, st.Outputs...), st.Scratch...) {
			if filepath.IsAbs(p) || p == "." || p == "" || strings.HasPrefix(filepath.Clean(p), "..") {
				return fmt.Errorf("pipeline: stage %s: output %q must be a path inside the run directory", st.Name, p)
			}
		}
		seen[st.Name] = true
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

// lockFile takes a lock (syscall.LOCK_EX or LOCK_SH) on path without
// waiting, so that two tdro processes never write the same stages at once;
// busy is the error when it is held. The kernel drops it if the process dies.
func lockFile(path string, how int, busy string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, errors.New(busy)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// startedPath marks a stage in progress (see started).
func startedPath(dir, stage string) string {
	return filepath.Join(dir, "manifests", stage+".started.json")
}

// cpuSeconds is the CPU time (user + system) the process has used so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// FormatSeconds prints a duration for people: 0.4s, 12.3s, 2m05s.
func FormatSeconds(s float64) string {
	if s < 60 {
		return fmt.Sprintf("%.1fs", s)
	}
	d := time.Duration(s * float64(time.Second)).Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// InDir moves a stage graph into sub-directory dir of the run: names (and
// their After and Flow) get prefix, relative outputs, scratch paths and
// inputs are under dir, and Run and Check see dir as their run directory.
// The same graph can so run once per seed in one run directory.
func InDir(stages []Stage, dir, prefix string) []Stage {
	out := make([]Stage, len(stages))
	under := func(paths []string) []string {
		moved := make([]string, len(paths))
		for i, p := range paths {
			moved[i] = p
			if !filepath.IsAbs(p) {
				moved[i] = filepath.Join(dir, p)
			}
		}
		return moved
	}
	named := func(names []string) []string {
		moved := make([]string, len(names))
		for i, n := range names {
			moved[i] = prefix + n
		}
		return moved
	}
	for i, st := range stages {
		st.Name, st.prefix = prefix+st.Name, prefix+st.prefix
		st.After, st.Flow = named(st.After), named(st.Flow)
		st.Outputs, st.Scratch, st.Inputs, st.Reads = under(st.Outputs), under(st.Scratch), under(st.Inputs), under(st.Reads)
		run := st.Run
		st.Run = func(ctx context.Context, s *Step) error {
			sub := *s
			sub.Dir = filepath.Join(s.Dir, dir)
			return run(ctx, &sub)
		}
		if check := st.Check; check != nil {
			st.Check = func(d string) error { return check(filepath.Join(d, dir)) }
		}
		out[i] = st
	}
	return out
}
