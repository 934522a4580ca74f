package pipeline

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tdro/tdro/internal/atomicfile"
	"github.com/tdro/tdro/slurm"
)

// A run handed to Slurm keeps, beside its stages:
//
//	slurm/run.json        what every job rebuilds the stage graph from (config, data, command)
//	slurm/jobs.json       the job of each submitted stage
//	slurm/jobs/NAME.sh    the batch scripts as submitted
//	slurm/logs/           what each job printed (the stage's own log is logs/STAGE.log)
const (
	slurmDir     = "slurm"
	runFile      = "slurm/run.json"
	jobsFile     = "slurm/jobs.json"
	submitLock   = "slurm/submit.lock"
	slurmScripts = "slurm/jobs"
	slurmLogs    = "slurm/logs"
)

// submitted is how a job sees the run: enough to rebuild the same stage
// graph on any node that shares the run directory.
type submitted struct {
	Config     *Config `json:"config"`
	ConfigName string  `json:"config_name"`
	Command    string  `json:"command"`
	Data       string  `json:"data"`
	Out        string  `json:"out"`
}

func (r submitted) options() Options {
	return Options{Config: r.Config, ConfigName: r.ConfigName, Command: r.Command, Data: r.Data, Out: r.Out}
}

// jobRecord is the job a stage was last submitted as.
type jobRecord struct {
	Job       string    `json:"job"`    // ID, or ID_TASK for a task of a job array
	Script    string    `json:"script"` // relative to the run directory
	Log       string    `json:"log"`    // relative to the run directory
	Submitted time.Time `json:"submitted"`
}

// Submission is what Submit did.
type Submission struct {
	Jobs   []SubmittedJob // submitted now, in order
	Done   []string       // stages already done (skipped)
	Queued []string       // stages whose earlier job is still queued or running (kept)
}

// SubmittedJob is one sbatch call: one stage, or a job array of stages of
// one kind that need the same jobs.
type SubmittedJob struct {
	ID     string
	Name   string
	Stages []string
	After  []string
}

// Stages counts the stages of the submitted jobs.
func (s *Submission) Stages() int {
	n := 0
	for _, j := range s.Jobs {
		n += len(j.Stages)
	}
	return n
}

// Submit hands every stage of opt's run that is not done to Slurm: one job
// per stage (stages of one kind that need the same jobs go as one job
// array), each with an afterok dependency on the jobs of the stages it
// needs. A stage whose earlier job is still queued or running keeps it, so
// submitting the same run again submits only what is missing; a finished
// run submits nothing. worker is the command a job runs with the run
// directory and the stage name appended (nil: this binary's `tdro stage`).
func Submit(ctx context.Context, opt Options, worker []string) (*Submission, error) {
	if err := slurm.Available(ctx); err != nil {
		return nil, fmt.Errorf("executor slurm: no Slurm controller answers here: %w", err)
	}
	if err := Check(opt); err != nil {
		return nil, err
	}
	var err error
	if opt.Out, err = filepath.Abs(opt.Out); err != nil {
		return nil, err
	}
	if opt.Data, err = filepath.Abs(opt.Data); err != nil {
		return nil, err
	}
	if worker == nil {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		worker = []string{exe, "stage"}
	}
	stages, err := Stages(opt)
	if err != nil {
		return nil, err
	}
	e := &Engine{Dir: opt.Out, Force: opt.Force}
	unlock, err := e.lock(syscall.LOCK_SH) // no local run in the same directory meanwhile
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := os.MkdirAll(filepath.Join(opt.Out, slurmScripts), 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(opt.Out, slurmLogs), 0o755); err != nil {
		return nil, err
	}
	unlockSubmit, err := lockFile(filepath.Join(opt.Out, submitLock), syscall.LOCK_EX, "another tdro run is submitting "+opt.Out)
	if err != nil {
		return nil, err
	}
	defer unlockSubmit()

	pr, err := e.progress(ctx, stages)
	if err != nil {
		return nil, err
	}
	done, jobs, queue := pr.done, pr.jobs, pr.queue
	run := submitted{Config: opt.Config, ConfigName: opt.ConfigName, Command: opt.Command, Data: opt.Data, Out: opt.Out}
	if err := refuseChangedRun(opt.Out, run, jobs, queue); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteJSON(filepath.Join(opt.Out, runFile), run); err != nil {
		return nil, err
	}
	if err := writeConfig(opt); err != nil {
		return nil, err
	}

	sub := &Submission{}
	jobOf := map[string]string{} // stage -> the job that will make it
	keep := func(st *Stage) bool {
		if done[st.Name] != nil {
			sub.Done = append(sub.Done, st.Name)
			return true
		}
		if r, ok := jobs[st.Name]; ok {
			if _, alive := queue[r.Job]; alive {
				jobOf[st.Name] = r.Job
				sub.Queued = append(sub.Queued, st.Name)
				return true
			}
		}
		return false
	}
	groups := groupJobs(opt.Config.Executor, stages, keep, done)
	for _, g := range groups {
		for _, st := range g.stages {
			if !contains(opt.Force, st.Name) {
				continue
			}
			// Forced: its next job starts afresh.
			for _, p := range []string{ManifestPath(opt.Out, st.Name), startedPath(opt.Out, st.Name)} {
				if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
					return nil, err
				}
			}
		}
	}

	run0 := filepath.Base(opt.Out)
	for _, g := range groups {
		var after []string
		for _, a := range g.after {
			after = append(after, jobOf[a])
		}
		name := "tdro:" + run0 + ":" + g.stages[0].Name
		base := g.stages[0].Name
		output := filepath.Join(opt.Out, slurmLogs, base+"-%j.out")
		if len(g.stages) > 1 {
			base = g.stages[0].prefix + g.stages[0].Kind + "-array"
			name = fmt.Sprintf("tdro:%s:%s%s[%d]", run0, g.stages[0].prefix, g.stages[0].Kind, len(g.stages))
			output = filepath.Join(opt.Out, slurmLogs, base+"-%A_%a.out")
		}
		job := slurm.Job{Name: name, Dir: opt.Out, Output: output, After: after,
			Options: opt.Config.Executor.sbatchOptions(g.res), Setup: opt.Config.Executor.Setup}
		for _, st := range g.stages {
			job.Commands = append(job.Commands, append(slices.Clone(worker), opt.Out, st.Name))
		}
		script := filepath.Join(slurmScripts, base+".sh")
		if err := atomicfile.WriteFile(filepath.Join(opt.Out, script), []byte(job.Script())); err != nil {
			return nil, err
		}
		id, err := slurm.Submit(ctx, filepath.Join(opt.Out, script))
		if err != nil {
			// What was submitted stays recorded: the next Submit keeps it.
			if werr := atomicfile.WriteJSON(filepath.Join(opt.Out, jobsFile), jobs); werr != nil {
				err = errors.Join(err, werr)
			}
			return sub, err
		}
		sj := SubmittedJob{ID: id, Name: name, After: after}
		for i, st := range g.stages {
			r := jobRecord{Job: id, Script: script, Log: strings.ReplaceAll(filepath.Join(slurmLogs, base+"-%j.out"), "%j", id), Submitted: time.Now().UTC()}
			if len(g.stages) > 1 {
				r.Job = fmt.Sprintf("%s_%d", id, i)
				r.Log = filepath.Join(slurmLogs, fmt.Sprintf("%s-%s_%d.out", base, id, i))
			}
			jobs[st.Name], jobOf[st.Name] = r, r.Job
			sj.Stages = append(sj.Stages, st.Name)
		}
		sub.Jobs = append(sub.Jobs, sj)
	}
	return sub, atomicfile.WriteJSON(filepath.Join(opt.Out, jobsFile), jobs)
}

// jobGroup is one sbatch submission to be: a stage, or stages of one kind
// with the same resources that need the same stages (a job array).
type jobGroup struct {
	stages []*Stage
	after  []string // the stages it waits for
	res    Resources
}

// groupJobs puts every stage that keep does not keep (done, or its earlier
// job still alive) into a job group, in stage order; a group waits for the
// stages it needs that are not done.
func groupJobs(x ExecutorConfig, stages []Stage, keep func(*Stage) bool, done map[string]*Manifest) []*jobGroup {
	var groups []*jobGroup
	for i := range stages {
		st := &stages[i]
		if keep(st) {
			continue
		}
		var after []string
		for _, a := range st.After {
			if done[a] == nil {
				after = append(after, a)
			}
		}
		res := x.resources(*st)
		if j := slices.IndexFunc(groups, func(g *jobGroup) bool {
			return g.stages[0].Kind == st.Kind && g.res == res && slices.Equal(g.after, after)
		}); j >= 0 {
			groups[j].stages = append(groups[j].stages, st)
			continue
		}
		groups = append(groups, &jobGroup{stages: []*Stage{st}, after: after, res: res})
	}
	return groups
}

// refuseChangedRun refuses a submission with other settings while jobs of
// the earlier one are alive: they would rebuild their stages from the new
// settings.
func refuseChangedRun(dir string, run submitted, jobs map[string]jobRecord, queue map[string]slurm.State) error {
	old, err := readSubmitted(dir)
	if err != nil || old == nil {
		return err
	}
	a, _ := json.Marshal(old)
	b, _ := json.Marshal(run)
	if string(a) == string(b) {
		return nil
	}
	var alive []string
	for _, r := range jobs {
		if _, ok := queue[r.Job]; ok {
			alive = append(alive, r.Job)
		}
	}
	if len(alive) == 0 {
		return nil
	}
	slices.Sort(alive)
	return fmt.Errorf("%s: jobs %s of an earlier submission with other settings are still queued or running; wait for them or scancel them first", dir, strings.Join(slices.Compact(alive), " "))
}

// doneStages are the stages whose recorded run still holds, with their
// manifests: the local engine would skip them. A stage after one that is
// not done is not done either.
func (e *Engine) doneStages(stages []Stage) (map[string]*Manifest, error) {
	done := map[string]*Manifest{}
	for i := range stages {
		st := &stages[i]
		if slices.ContainsFunc(st.After, func(a string) bool { return done[a] == nil }) {
			continue
		}
		m, err := e.expect(st, done)
		if err != nil {
			return nil, err
		}
		old, _, err := e.upToDate(st, m.Key)
		if err != nil {
			return nil, fmt.Errorf("stage %s: %w", st.Name, err)
		}
		if old != nil {
			done[st.Name] = old
		}
	}
	return done, nil
}

// progress is where a submitted run's stages stand: the done ones with
// their manifests, the job each was last submitted as, and the alive jobs.
type progress struct {
	done  map[string]*Manifest
	jobs  map[string]jobRecord
	queue map[string]slurm.State
}

func (e *Engine) progress(ctx context.Context, stages []Stage) (*progress, error) {
	done, err := e.doneStages(stages)
	if err != nil {
		return nil, err
	}
	jobs, err := readJobs(e.Dir)
	if err != nil {
		return nil, err
	}
	queue, err := slurm.Queue(ctx)
	if err != nil {
		return nil, err
	}
	return &progress{done: done, jobs: jobs, queue: queue}, nil
}

func readJobs(dir string) (map[string]jobRecord, error) {
	jobs := map[string]jobRecord{}
	if _, err := readOptionalJSON(filepath.Join(dir, jobsFile), &jobs); err != nil {
		return nil, err
	}
	return jobs, nil
}

func readSubmitted(dir string) (*submitted, error) {
	var r submitted
	path := filepath.Join(dir, runFile)
	if found, err := readOptionalJSON(path, &r); err != nil || !found {
		return nil, err
	}
	if r.Config == nil {
		return nil, fmt.Errorf("%s: no config", path)
	}
	return &r, nil
}

// readOptionalJSON decodes the JSON file at path into v; a missing file is
// not an error (found is false).
func readOptionalJSON(path string, v any) (found bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return true, nil
}

// Work is the body of one cluster job: it runs stage of the submitted run
// in dir, as the local engine would run it there (skipped when up to date,
// resumed when an earlier attempt was interrupted). SIGINT and SIGTERM
// (scancel, preemption) stop the stage at its next checkpoint. SIGUSR1 —
// the warning --signal sends ahead of the time limit — does the same and
// then puts the job back in the queue, where it resumes.
func Work(dir, stage string, log io.Writer) error { return work(dir, stage, log, nil) }

// work is Work with the stage graph passed through edit first (tests make a
// stage fail with it).
func work(dir, stage string, log io.Writer, edit func([]Stage)) error {
	run, err := readSubmitted(dir)
	if err != nil {
		return err
	}
	if run == nil {
		return fmt.Errorf("%s: not a submitted run (no %s)", dir, runFile)
	}
	stages, err := Stages(run.options())
	if err != nil {
		return err
	}
	if edit != nil {
		edit(stages)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	var got atomic.Value
	go func() {
		if s, ok := <-sigs; ok {
			got.Store(s)
			cancel()
		}
	}()
	e := &Engine{Dir: run.Out, Log: log}
	_, err = e.RunStage(ctx, stages, stage)
	if err != nil && got.Load() == syscall.SIGUSR1 {
		fmt.Fprintf(log, "[%s] near the time limit: checkpointed; requeueing job %s\n", stage, slurm.ThisJob())
		if rerr := slurm.RequeueThisJob(context.Background()); rerr != nil {
			return errors.Join(err, rerr)
		}
		return nil
	}
	return err
}

// StageState is one stage of a submitted run as --status shows it.
type StageState struct {
	Stage  string
	State  string // done, running, queued, failed, interrupted, cancelled, not submitted
	Job    string
	Detail string   // time taken, why it waits, which failed stage it needed
	Tail   []string // the end of its log, for a stage that failed or stopped
}

// The states of StageState.
const (
	StateDone         = "done"
	StateRunning      = "running"
	StateQueued       = "queued"
	StateFailed       = "failed"
	StateInterrupted  = "interrupted"
	StateCancelled    = "cancelled"
	StateNotSubmitted = "not submitted"
)

// StatusOf says where each stage of the run submitted in dir stands, from its
// manifests, its logs and the Slurm queue.
func StatusOf(ctx context.Context, dir string) ([]StageState, error) {
	run, err := readSubmitted(dir)
	if err != nil {
		return nil, err
	}
	if run == nil {
		return nil, fmt.Errorf("%s: not a submitted run (no %s): a local run prints its stages as it goes, and its report lists them", dir, runFile)
	}
	stages, err := Stages(run.options())
	if err != nil {
		return nil, err
	}
	e := &Engine{Dir: run.Out}
	pr, err := e.progress(ctx, stages)
	if err != nil {
		return nil, err
	}
	done, jobs, queue := pr.done, pr.jobs, pr.queue
	byName := map[string]StageState{}
	var states []StageState
	for _, st := range stages {
		s := StageState{Stage: st.Name}
		r, submitted := jobs[st.Name]
		q, alive := queue[r.Job]
		switch {
		case done[st.Name] != nil:
			m := done[st.Name]
			s.State, s.Detail = StateDone, fmt.Sprintf("%s, CPU %s", FormatSeconds(m.Seconds), FormatSeconds(m.CPUSeconds))
		case !submitted:
			s.State = StateNotSubmitted
		case alive && q.Running():
			s.State, s.Job = StateRunning, r.Job
		case alive:
			s.State, s.Job, s.Detail = StateQueued, r.Job, "waiting"
			if q.Reason != "" && q.Reason != "None" {
				s.Detail += ": " + q.Reason
			}
		default:
			s.Job = r.Job
			if _, err := os.Stat(startedPath(run.Out, st.Name)); err == nil {
				s.State = StateInterrupted
				if strings.HasPrefix(lastEvent(filepath.Join(run.Out, "logs", st.Name+".log"), st.Name), "failed:") {
					s.State = StateFailed
				}
				s.Tail = tail(filepath.Join(run.Out, "logs", st.Name+".log"), 5)
				if s.State == StateInterrupted {
					s.Detail = "submit again to resume it"
					s.Tail = append(s.Tail, tail(filepath.Join(run.Out, r.Log), 3)...)
				}
				break
			}
			s.State = StateCancelled
			for _, a := range st.After {
				if u := byName[a]; u.State == StateFailed || u.State == StateCancelled || u.State == StateInterrupted {
					s.Detail = fmt.Sprintf("never ran: it needs %s, which is %s", a, u.State)
					break
				}
			}
			if s.Detail == "" {
				s.Detail = "its job ended before the stage ran"
				s.Tail = tail(filepath.Join(run.Out, r.Log), 5)
			}
		}
		byName[st.Name] = s
		states = append(states, s)
	}
	return states, nil
}

// FormatStatus prints states as a table with a count per state.
func FormatStatus(states []StageState) string {
	var b strings.Builder
	count := map[string]int{}
	var order []string
	for _, s := range states {
		if count[s.State] == 0 {
			order = append(order, s.State)
		}
		count[s.State]++
		state := s.State
		if s.Job != "" {
			state += " (job " + s.Job + ")"
		}
		line := fmt.Sprintf("%-28s %-26s %s", s.Stage, state, s.Detail)
		b.WriteString(strings.TrimRight(line, " ") + "\n")
		for _, t := range s.Tail {
			fmt.Fprintf(&b, "    | %s\n", t)
		}
	}
	var parts []string
	for _, st := range order {
		parts = append(parts, fmt.Sprintf("%d %s", count[st], st))
	}
	fmt.Fprintf(&b, "%d stages: %s\n", len(states), strings.Join(parts, ", "))
	return b.String()
}

// tail is the last n lines of a file (none if it cannot be read).
func tail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

// lastEvent is the last line the engine wrote for stage into its log
// ("running", "failed: ...", "interrupted: ...", "done in ..."), without
// the stage's prefix.
func lastEvent(path, stage string) string {
	last := ""
	for _, l := range tail(path, 1<<16) {
		if rest, ok := strings.CutPrefix(l, "["+stage+"] "); ok {
			last = rest
		}
	}
	return last
}

// String says what was submitted, one job a line.
func (s *Submission) String() string {
	var b strings.Builder
	for _, j := range s.Jobs {
		after := ""
		if len(j.After) > 0 {
			after = " after " + strings.Join(j.After, ",")
		}
		fmt.Fprintf(&b, "job %-8s %s: %s%s\n", j.ID, j.Name, strings.Join(j.Stages, " "), after)
	}
	fmt.Fprintf(&b, "submitted %d jobs for %d stages; %d stages done, %d already queued or running", len(s.Jobs), s.Stages(), len(s.Done), len(s.Queued))
	return b.String()
}
