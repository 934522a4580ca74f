// Package slurm is the little of Slurm that tdro's cluster executor needs:
// a batch script with its #SBATCH lines, sbatch to submit it, squeue to see
// which jobs are still alive, and scontrol to put a running job back in the
// queue. It runs the real commands; nothing here schedules.
package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Job is one sbatch submission: a single job or, with Tasks > 1, a job
// array whose task i runs Commands[i].
type Job struct {
	Name     string
	Dir      string     // working directory of the job (--chdir)
	Output   string     // its stdout and stderr (--output; %A and %a name an array task, %j a job)
	After    []string   // jobs (ID or ID_TASK) that must succeed first; if one fails the job is cancelled
	Options  []string   // further sbatch options, e.g. --cpus-per-task=4, --gres=gpu:1
	Setup    []string   // shell lines run before the command (module load, export ...)
	Commands [][]string // one command line per task
}

// Script is the batch script of j. Every command is exec'd, so that the
// signals Slurm sends the batch shell (--signal=B:...) reach it.
func (j Job) Script() string {
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	line := func(opt string) { fmt.Fprintf(&b, "#SBATCH %s\n", opt) }
	line("--job-name=" + j.Name)
	line("--chdir=" + j.Dir)
	line("--output=" + j.Output)
	line("--open-mode=append") // a requeued job continues its log
	if len(j.After) > 0 {
		line("--dependency=afterok:" + strings.Join(j.After, ":"))
		line("--kill-on-invalid-dep=yes") // a failed dependency cancels the job instead of leaving it waiting
	}
	if len(j.Commands) > 1 {
		line(fmt.Sprintf("--array=0-%d", len(j.Commands)-1))
	}
	for _, o := range j.Options {
		line(o)
	}
	b.WriteString("set -euo pipefail\n")
	for _, s := range j.Setup {
		b.WriteString(s + "\n")
	}
	if len(j.Commands) == 1 {
		fmt.Fprintf(&b, "exec %s\n", quoteAll(j.Commands[0]))
		return b.String()
	}
	b.WriteString("case \"$SLURM_ARRAY_TASK_ID\" in\n")
	for i, c := range j.Commands {
		fmt.Fprintf(&b, "%d) exec %s ;;\n", i, quoteAll(c))
	}
	b.WriteString("*) echo \"no task $SLURM_ARRAY_TASK_ID\" >&2; exit 1 ;;\nesac\n")
	return b.String()
}

// Submit submits the batch script at path and returns the job's ID.
func Submit(ctx context.Context, path string) (string, error) {
	out, err := run(ctx, "sbatch", "--parsable", path)
	if err != nil {
		return "", err
	}
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";") // ID[;cluster]
	if id == "" {
		return "", fmt.Errorf("sbatch %s printed no job ID", path)
	}
	return id, nil
}

// State is an alive job's state as squeue reports it.
type State struct {
	State  string // PENDING, RUNNING, COMPLETING, ...
	Reason string // why it pends (Dependency, Resources, BeginTime, ...)
}

// Running says whether the job has started.
func (s State) Running() bool { return s.State == "RUNNING" || s.State == "COMPLETING" }

// Queue lists this user's alive jobs by ID, every array task on its own
// (ID_TASK). Jobs that ended are not in it: the caller tells success from
// failure by what the job left behind.
func Queue(ctx context.Context) (map[string]State, error) {
	out, err := run(ctx, "squeue", "--me", "--noheader", "--array", "--format=%i|%T|%r")
	if err != nil {
		return nil, err
	}
	q := map[string]State{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(l, "|")
		if len(f) == 3 {
			q[f[0]] = State{State: f[1], Reason: f[2]}
		}
	}
	return q, nil
}

// Cancel cancels jobs (scancel).
func Cancel(ctx context.Context, ids ...string) error {
	_, err := run(ctx, "scancel", ids...)
	return err
}

// Available says whether a Slurm controller answers here.
func Available(ctx context.Context) error {
	_, err := run(ctx, "sinfo", "--noheader", "--format=%P")
	return err
}

// ThisJob is the ID of the job this process runs in ("" outside Slurm):
// ID_TASK for an array task.
func ThisJob() string {
	if a, t := os.Getenv("SLURM_ARRAY_JOB_ID"), os.Getenv("SLURM_ARRAY_TASK_ID"); a != "" && t != "" {
		return a + "_" + t
	}
	return os.Getenv("SLURM_JOB_ID")
}

// RequeueThisJob puts the job this process runs in back in the queue (it
// needs --requeue); Slurm ends this attempt and starts the job again.
func RequeueThisJob(ctx context.Context) error {
	id := ThisJob()
	if id == "" {
		return errors.New("slurm: not inside a job")
	}
	_, err := run(ctx, "scontrol", "requeue", id)
	return err
}

func run(ctx context.Context, name string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// quoteAll quotes a command line for bash.
func quoteAll(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = quote(a)
	}
	return strings.Join(q, " ")
}

func quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=/.,:@%^") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
