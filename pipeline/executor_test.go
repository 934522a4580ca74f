package pipeline

import (
	"slices"
	"strings"
	"testing"
)

func TestExecutorConfigProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		x    ExecutorConfig
		want string // "" for none
	}{
		{"local by default", ExecutorConfig{}, ""},
		{"slurm with resources", ExecutorConfig{Kind: ExecutorSlurm, Resources: map[string]Resources{
			"default": {CPUs: 2, Mem: "8G", Time: "30"}, "train": {GPUs: 1, Time: "1-00:00:00"}, "eval-bm25": {Mem: "512M"}}}, ""},
		{"unknown kind", ExecutorConfig{Kind: "pbs"}, `executor.kind: unknown "pbs"`},
		{"unknown resource key", ExecutorConfig{Resources: map[string]Resources{"gpu": {}}}, `executor.resources: "gpu" is neither`},
		{"bad memory", ExecutorConfig{Resources: map[string]Resources{"train": {Mem: "8 GB"}}}, "executor.resources.train.mem"},
		{"bad time", ExecutorConfig{Resources: map[string]Resources{"dro": {Time: "2h"}}}, "executor.resources.dro.time"},
		{"negative cpus", ExecutorConfig{Resources: map[string]Resources{"eval": {CPUs: -1}}}, "cpus and gpus must be >= 0"},
		{"negative signal", ExecutorConfig{SignalSeconds: -5}, "executor.signal_seconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(tc.x.problems(), "; ")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("problems = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestExecutorResources: a stage's name (without its seed) wins over its
// kind, its kind over "default".
func TestExecutorResources(t *testing.T) {
	x := ExecutorConfig{Partition: "gpu", Account: "lab", SignalSeconds: 300, Sbatch: []string{"--qos=long"},
		Resources: map[string]Resources{"default": {CPUs: 1}, "train": {CPUs: 8, GPUs: 1, Mem: "32G", Time: "4:00:00"}, "train-reference": {CPUs: 16}}}
	stages := InDir([]Stage{{Name: "train-reference", Kind: KindTrain}, {Name: "train-top70", Kind: KindTrain}, {Name: "eval-top70", Kind: KindEval}}, "seed-2", "seed-2.")
	for i, want := range []Resources{{CPUs: 16}, {CPUs: 8, GPUs: 1, Mem: "32G", Time: "4:00:00"}, {CPUs: 1}} {
		if got := x.resources(stages[i]); got != want {
			t.Errorf("%s: %+v, want %+v", stages[i].Name, got, want)
		}
	}
	got := x.sbatchOptions(x.resources(stages[1]))
	want := []string{"--requeue", "--signal=B:USR1@300", "--partition=gpu", "--account=lab", "--cpus-per-task=8", "--mem=32G", "--time=4:00:00", "--gres=gpu:1", "--qos=long"}
	if !slices.Equal(got, want) {
		t.Errorf("sbatch options %q, want %q", got, want)
	}
}

// TestGroupJobs: stages of one kind with the same resources that wait for
// the same stages go as one job array; done stages wait for nothing.
func TestGroupJobs(t *testing.T) {
	stages := []Stage{
		{Name: "prepare", Kind: KindPrepare},
		{Name: "transfer", Kind: KindTransfer, After: []string{"prepare"}},
		{Name: "train-a", Kind: KindTrain, After: []string{"prepare", "transfer"}},
		{Name: "train-b", Kind: KindTrain, After: []string{"prepare", "transfer"}},
		{Name: "train-c", Kind: KindTrain, After: []string{"prepare", "transfer"}},
		{Name: "eval-a", Kind: KindEval, After: []string{"train-a"}},
		{Name: "eval-b", Kind: KindEval, After: []string{"train-b"}},
	}
	x := ExecutorConfig{Resources: map[string]Resources{"train-c": {GPUs: 1}}}
	done := map[string]*Manifest{"prepare": {}}
	groups := groupJobs(x, stages, func(st *Stage) bool { return done[st.Name] != nil }, done)
	var got []string
	for _, g := range groups {
		var names []string
		for _, st := range g.stages {
			names = append(names, st.Name)
		}
		got = append(got, strings.Join(names, "+")+" after "+strings.Join(g.after, ","))
	}
	want := []string{"transfer after ", "train-a+train-b after transfer", "train-c after transfer", "eval-a after train-a", "eval-b after train-b"}
	if !slices.Equal(got, want) {
		t.Errorf("groups\n%q\nwant\n%q", got, want)
	}
}
