package slurm

import (
	"strings"
	"testing"
)

func TestScript(t *testing.T) {
	for _, tc := range []struct {
		name string
		job  Job
		want []string // lines the script must hold, in order
		not  []string
	}{
		{"one stage", Job{Name: "tdro:run:dro", Dir: "/shared/run", Output: "/shared/run/slurm/logs/dro-%j.out",
			After: []string{"12", "13_1"}, Options: []string{"--requeue", "--gres=gpu:1"}, Setup: []string{"module load cuda"},
			Commands: [][]string{{"/opt/tdro", "stage", "/shared/run", "dro"}}},
			[]string{"#!/bin/bash", "#SBATCH --job-name=tdro:run:dro", "#SBATCH --chdir=/shared/run", "#SBATCH --dependency=afterok:12:13_1",
				"#SBATCH --kill-on-invalid-dep=yes", "#SBATCH --requeue", "#SBATCH --gres=gpu:1", "module load cuda", "exec /opt/tdro stage /shared/run dro"},
			[]string{"--array"}},
		{"an array, quoted", Job{Name: "a", Dir: "/r", Output: "/r/%A_%a.out",
			Commands: [][]string{{"tdro", "stage", "/my runs/x", "train-a"}, {"tdro", "stage", "/my runs/x", "it's"}}},
			[]string{"#SBATCH --array=0-1", `0) exec tdro stage '/my runs/x' train-a ;;`, `1) exec tdro stage '/my runs/x' 'it'\''s' ;;`},
			[]string{"--dependency"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.job.Script()
			at := 0
			for _, w := range tc.want {
				i := strings.Index(s[at:], w+"\n")
				if i < 0 {
					t.Fatalf("script lacks %q after offset %d:\n%s", w, at, s)
				}
				at += i
			}
			for _, n := range tc.not {
				if strings.Contains(s, n) {
					t.Errorf("script has %q:\n%s", n, s)
				}
			}
		})
	}
}
